package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"
)

var (
	taalRE  = regexp.MustCompile(`^[a-z]{3}$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	rsinRE  = regexp.MustCompile(`^[0-9]{9}$`)
)

var vertrouwelijkheid = map[string]bool{
	"openbaar": true, "beperkt_openbaar": true, "intern": true, "zaakvertrouwelijk": true,
	"vertrouwelijk": true, "confidentieel": true, "geheim": true, "zeer_geheim": true,
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c.validateBasics(bad)
	c.validateMapping(bad)
	validateIntake(&c.Intake, c.Ops.Listen, bad)
	c.validateRouting(bad)
	c.validateSources(bad)
	c.validateStorage(bad)
	c.settleScan(bad)
	c.settleScaleOut(bad)
	return errors.Join(errs...)
}

func (c *Config) validateBasics(bad badFunc) {
	if !nameRE.MatchString(c.Instance) {
		bad("instance: %q must be 1-64 letters, digits, '.', '_' or '-'", c.Instance)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format: %q is not one of json, text", c.Log.Format)
	}
	if c.Limits.MaxMessageBytes < 1024 {
		bad("limits.max_message_bytes: must be at least 1024")
	}
	if c.Limits.MaxAttempts < 1 {
		bad("limits.max_attempts: must be at least 1")
	}
	if c.Limits.ItemTimeout < time.Second {
		bad("limits.item_timeout: must be at least 1s")
	}
	if c.Limits.RetryMaxBackoff < 100*time.Millisecond || c.Limits.RetryMaxBackoff > time.Hour {
		bad("limits.retry_max_backoff: must be between 100ms and 1h")
	}
}

func (c *Config) validateMapping(bad badFunc) {
	m := c.Mapping
	if !taalRE.MatchString(m.Taal) {
		bad("mapping.taal: %q must be a 3-letter lower-case language code such as nld", m.Taal)
	}
	for name, k := range m.Kanalen {
		if l := len([]rune(k.Kanaal)); l == 0 || l > 50 {
			bad("mapping.kanalen.%s.kanaal: must be 1-50 characters", name)
		}
		if len([]rune(k.AdresOmschrijving)) > 40 {
			bad("mapping.kanalen.%s.adres_omschrijving: must be at most 40 characters", name)
		}
	}
	checkActor := func(at string, a Actor, worker bool) {
		if l := len([]rune(a.Naam)); l == 0 || l > 200 {
			bad("%s.naam: must be 1-200 characters", at)
		}
		if a.UUID != "" && !uuidRE.MatchString(a.UUID) {
			bad("%s.uuid: %q is not a lower-case uuid", at, a.UUID)
		}
		if worker && (len([]rune(a.Functie)) == 0 || len([]rune(a.Functie)) > 40) {
			bad("%s.functie: must be 1-40 characters", at)
		}
		if len([]rune(a.Omschrijving)) > 200 {
			bad("%s.omschrijving: must be at most 200 characters", at)
		}
	}
	checkActor("mapping.worker", m.Worker, true)
	for k, a := range m.Eenheden {
		checkActor("mapping.eenheden."+k, a, false)
	}
	if d := m.Documenten; d.Bronorganisatie != "" && !ValidRSIN(d.Bronorganisatie) {
		bad("mapping.documenten.bronorganisatie: %q is not a valid RSIN (9 digits, 11-proof)", d.Bronorganisatie)
	}
	if v := m.Documenten.Vertrouwelijkheidaanduiding; v != "" && !vertrouwelijkheid[v] {
		bad("mapping.documenten.vertrouwelijkheidaanduiding: %q is not a Documenten API value", v)
	}
	for i, p := range m.Zaak.Patterns {
		if _, err := regexp.Compile(p); err != nil {
			bad("mapping.zaak.patterns[%d]: invalid regular expression: %v", i, err)
		}
	}
}

func (c *Config) validateRouting(bad badFunc) {
	m := c.Mapping
	checkTasks := func(at string, tasks []Task) {
		for i, t := range tasks {
			if l := len([]rune(t.GevraagdeHandeling)); l == 0 || l > 200 {
				bad("%s[%d].gevraagde_handeling: must be 1-200 characters", at, i)
			}
			if len([]rune(t.Toelichting)) > 1000 {
				bad("%s[%d].toelichting: must be at most 1000 characters", at, i)
			}
			if len(t.Eenheden) == 0 {
				bad("%s[%d].eenheden: a task needs at least one eenheid", at, i)
			}
			for _, e := range t.Eenheden {
				if _, ok := m.Eenheden[e]; !ok {
					bad("%s[%d].eenheden: %q is not defined in mapping.eenheden", at, i, e)
				}
			}
		}
	}
	for i, r := range c.Routing.Rules {
		at := fmt.Sprintf("routing.rules[%d]", i)
		for _, re := range []struct{ k, v string }{{"subject", r.When.Subject}, {"text", r.When.Text}} {
			if re.v != "" {
				if _, err := regexp.Compile(re.v); err != nil {
					bad("%s.when.%s: invalid regular expression: %v", at, re.k, err)
				}
			}
		}
		checkTasks(at+".tasks", r.Tasks)
	}
	checkTasks("routing.default", c.Routing.Default)
}

func (c *Config) validateSources(bad badFunc) {
	if len(c.Sources) == 0 {
		bad("sources: at least one source is needed")
	}
	names := map[string]bool{}
	for i, s := range c.Sources {
		at := fmt.Sprintf("sources[%d]", i)
		if !nameRE.MatchString(s.Name) {
			bad("%s.name: %q must be 1-64 letters, digits, '.', '_' or '-'", at, s.Name)
		}
		if names[s.Name] {
			bad("%s.name: %q is used twice", at, s.Name)
		}
		names[s.Name] = true
		switch s.Type {
		case "":
			bad("%s.type: required", at)
		case "dir", "maildir":
			if s.Path == "" {
				bad("%s.path: required for type %s", at, s.Type)
			}
		case "s3":
			if s.S3 == nil {
				bad("%s.s3: required for type s3 (or configure storage.blobs.s3)", at)
			} else {
				validateS3(at+".s3", s.S3, bad)
			}
		}
		if s.Workers < 1 || s.Workers > 64 {
			bad("%s.workers: must be 1-64", at)
		}
		for _, p := range s.Patterns {
			if _, err := filepath.Match(p, ""); err != nil {
				bad("%s.patterns: %q is not a valid pattern", at, p)
			}
		}
	}
}

func (c *Config) validateStorage(bad badFunc) {
	switch c.Storage.Blobs.Type {
	case "dir":
	case "s3":
		if c.Storage.Blobs.S3 == nil {
			bad("storage.blobs.s3: required for type s3")
		} else {
			validateS3("storage.blobs.s3", c.Storage.Blobs.S3, bad)
		}
	default:
		bad("storage.blobs.type: %q is not one of dir, s3", c.Storage.Blobs.Type)
	}
	switch c.Storage.Events.Type {
	case "log":
	case "kafka":
		if c.Storage.Events.Kafka == nil {
			bad("storage.events.kafka: required for type kafka")
		} else {
			validateKafka(c.Storage.Events.Kafka, bad)
		}
	default:
		bad("storage.events.type: %q is not one of log, kafka", c.Storage.Events.Type)
	}
	t := c.Storage.Events.Topics
	for k, v := range map[string]string{"klantcontacten": t.Klantcontacten, "internetaken": t.Internetaken, "deadletter": t.DeadLetter} {
		if !topicRE.MatchString(v) {
			bad("storage.events.topics.%s: %q is not a valid topic name", k, v)
		}
	}
}
