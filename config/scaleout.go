package config

import (
	"regexp"
	"time"
)

// ScaleOut lets several replicas run with the same configuration. Each source (an IMAP
// folder, a Maildir, a drop zone) is then active in exactly one replica at a time,
// assigned through Kafka's consumer-group protocol; when a replica stops or dies, its
// sources move to the others. The intake API answers on every replica. Off while Group
// is empty: then every source runs in this process.
type ScaleOut struct {
	// Group is the Kafka consumer group id shared by the replicas, e.g. "instroom-gemeente".
	Group string `yaml:"group"`
	// Topic is the coordination topic whose partitions are the sources' leases (default
	// "instroom.bronnen"); it is created when missing. No message is written to it.
	Topic string `yaml:"topic"`
	// Partitions of a topic created by Instroom (default 12): at least the number of
	// sources, so that sources spread over the replicas.
	Partitions int `yaml:"partitions"`
	// SessionTimeout is how long a silent replica keeps its sources before the others
	// take them over (default 10s). A dead replica's sources move within about
	// session_timeout plus shutdown.drain_timeout.
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

// Enabled reports whether scale-out is configured.
func (s *ScaleOut) Enabled() bool { return s.Group != "" }

var groupRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// settleScaleOut applies the scale_out block's defaults and validates it.
func (c *Config) settleScaleOut(bad badFunc) {
	s := &c.ScaleOut
	if s.Topic == "" {
		s.Topic = "instroom.bronnen"
	}
	if s.Partitions == 0 {
		s.Partitions = 12
	}
	if s.SessionTimeout == 0 {
		s.SessionTimeout = 10 * time.Second
	}
	if !s.Enabled() {
		return
	}
	if !groupRE.MatchString(s.Group) {
		bad("scale_out.group: %q must be 1-200 letters, digits, '.', '_' or '-'", s.Group)
	}
	if !groupRE.MatchString(s.Topic) {
		bad("scale_out.topic: %q must be 1-200 letters, digits, '.', '_' or '-'", s.Topic)
	}
	if s.Partitions < 1 || s.Partitions > 1000 {
		bad("scale_out.partitions: must be between 1 and 1000")
	}
	if s.SessionTimeout < 6*time.Second || s.SessionTimeout > 5*time.Minute {
		bad("scale_out.session_timeout: must be between 6s and 5m (the broker's group.min/max.session.timeout.ms defaults)")
	}
	if c.Storage.Events.Type != "kafka" {
		bad("scale_out.group: scale-out needs storage.events.type kafka (the replicas coordinate through its brokers)")
	}
}
