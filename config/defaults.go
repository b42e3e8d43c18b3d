package config

import (
	"fmt"
	"path/filepath"
	"time"
)

func (c *Config) defaults() {
	if c.Instance == "" {
		c.Instance = "instroom"
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	c.DataDir = c.Path(c.DataDir)
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	c.mappingDefaults()
	c.sourceDefaults()
	c.storageDefaults()
}

func (c *Config) mappingDefaults() {
	m := &c.Mapping
	if m.Taal == "" {
		m.Taal = "nld"
	}
	if m.Worker.Naam == "" {
		m.Worker.Naam = "Instroom"
	}
	if m.Worker.Functie == "" {
		m.Worker.Functie = "Registreren inkomende berichten"
	}
	if len(m.Eenheden) == 0 {
		m.Eenheden = map[string]Actor{"kcc": {Naam: "KCC", Omschrijving: "Klant Contact Centrum"}}
	}
	if c.Routing == nil {
		def := "kcc"
		if _, ok := m.Eenheden[def]; !ok {
			for k := range m.Eenheden {
				def = k
				break
			}
		}
		c.Routing = &Routing{Rules: []Rule{{
			Name: "e-mail",
			When: When{Channels: []string{"email"}},
			Tasks: []Task{{
				GevraagdeHandeling: "Lezen en bepalen benodigde actie",
				Toelichting:        "Aangemaakt naar aanleiding van een ontvangen e-mail",
				Eenheden:           []string{def},
			}},
		}}}
	}
}

func (c *Config) sourceDefaults() {
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Channel == "" {
			s.Channel = "email"
		}
		if s.Name == "" {
			s.Name = fmt.Sprintf("%s-%d", s.Type, i)
		}
		s.Path = c.Path(s.Path)
		if s.PollInterval == 0 {
			s.PollInterval = 2 * time.Second
		}
		if s.S3 == nil && s.Type == "s3" && c.Storage.Blobs.S3 != nil {
			conn := *c.Storage.Blobs.S3
			s.S3 = &conn
		}
		if s.S3 != nil {
			s.S3.CAFile = c.Path(s.S3.CAFile)
			if s.S3.Region == "" {
				s.S3.Region = "us-east-1"
			}
		}
		if s.MinAge == 0 {
			s.MinAge = 2 * time.Second
		}
		if s.Workers == 0 {
			s.Workers = 1
		}
	}
}

func (c *Config) storageDefaults() {
	if c.Storage.Blobs.Type == "" {
		c.Storage.Blobs.Type = "dir"
	}
	if c.Storage.Blobs.Type == "dir" {
		if c.Storage.Blobs.Path == "" {
			c.Storage.Blobs.Path = filepath.Join(c.DataDir, "objects")
		}
		c.Storage.Blobs.Path = c.Path(c.Storage.Blobs.Path)
	}
	if s3 := c.Storage.Blobs.S3; s3 != nil {
		s3.CAFile = c.Path(s3.CAFile)
		if s3.Region == "" {
			s3.Region = "us-east-1"
		}
	}
	if k := c.Storage.Events.Kafka; k != nil {
		k.CAFile = c.Path(k.CAFile)
	}
	if c.Storage.Events.Type == "" {
		c.Storage.Events.Type = "log"
	}
	if c.Storage.Events.Type == "log" {
		if c.Storage.Events.Path == "" {
			c.Storage.Events.Path = filepath.Join(c.DataDir, "events")
		}
		c.Storage.Events.Path = c.Path(c.Storage.Events.Path)
	}
	t := &c.Storage.Events.Topics
	if t.Klantcontacten == "" {
		t.Klantcontacten = "klantcontacten"
	}
	if t.Internetaken == "" {
		t.Internetaken = "internetaken"
	}
	if t.DeadLetter == "" {
		t.DeadLetter = "instroom.deadletter"
	}
	if len(c.Mapping.Zaak.Patterns) == 0 {
		c.Mapping.Zaak.Patterns = []string{`(?i)\bzaak-[0-9]{4}-[0-9]{4,10}\b`, `(?i)\bz-[0-9]{4}-[0-9]{4,10}\b`}
	}
	if c.Mapping.Zaak.Uppercase == nil {
		up := true
		c.Mapping.Zaak.Uppercase = &up
	}
	if tl := c.Intake.TLS; tl != nil {
		tl.CertFile, tl.KeyFile = c.Path(tl.CertFile), c.Path(tl.KeyFile)
	}
	if c.Intake.MaxBriefBytes == 0 {
		c.Intake.MaxBriefBytes = 50 << 20
	}
	if c.Intake.MaxGesprekBytes == 0 {
		c.Intake.MaxGesprekBytes = 5 << 20
	}
	for k, v := range c.Intake.Vendors {
		if v.Rate == 0 {
			v.Rate = 10
		}
		if v.Burst == 0 {
			v.Burst = 20
		}
		c.Intake.Vendors[k] = v
	}
	if c.Limits.MaxMessageBytes == 0 {
		c.Limits.MaxMessageBytes = 50 << 20
	}
	if c.Limits.MaxAttempts == 0 {
		c.Limits.MaxAttempts = 3
	}
	if c.Limits.ItemTimeout == 0 {
		c.Limits.ItemTimeout = 10 * time.Minute
	}
	if c.Limits.RetryMaxBackoff == 0 {
		c.Limits.RetryMaxBackoff = 5 * time.Second
	}
	if c.Shutdown.DrainTimeout == 0 {
		c.Shutdown.DrainTimeout = 10 * time.Second
	}
}
