package config

import (
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Scan configures virus scanning: every original and attachment is scanned by clamd
// before anything is stored, and infected content goes to a quarantine place in the blob
// store instead. Scanning is off while scan.clamd.address is empty.
type Scan struct {
	Clamd      Clamd      `yaml:"clamd"`
	Quarantine Quarantine `yaml:"quarantine"`
}

// Clamd is the ClamAV daemon to scan with.
type Clamd struct {
	// Address is tcp://HOST:PORT or unix:///PATH (e.g. unix:///run/clamav/clamd.ctl);
	// empty: no scanning.
	Address string `yaml:"address"`
	// Timeout is how long clamd may be silent: connecting, taking one chunk of the stream,
	// or giving its verdict after the last chunk (default 60s).
	Timeout time.Duration `yaml:"timeout"`
}

// Quarantine is where infected content is kept.
type Quarantine struct {
	// Prefix is the key prefix in the blob store (storage.blobs) under which infected
	// originals and attachments are kept, one folder per klantcontact (default
	// "quarantaine"). It must differ from storage.blobs.prefix.
	Prefix string `yaml:"prefix"`
}

// Enabled reports whether virus scanning is configured.
func (s *Scan) Enabled() bool { return s.Clamd.Address != "" }

var quarantinePrefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

// settleScan applies the scan block's defaults and validates it (it runs after the
// other defaults, from validate).
func (c *Config) settleScan(bad badFunc) {
	s := &c.Scan
	if s.Clamd.Timeout == 0 {
		s.Clamd.Timeout = 60 * time.Second
	}
	if s.Quarantine.Prefix == "" {
		s.Quarantine.Prefix = "quarantaine"
	}
	s.Quarantine.Prefix = strings.Trim(s.Quarantine.Prefix, "/")
	if a := s.Clamd.Address; a != "" && !validClamdAddress(a) {
		bad("scan.clamd.address: %q must be tcp://HOST:PORT or unix:///PATH (empty: no scanning)", a)
	}
	if s.Clamd.Timeout < time.Second {
		bad("scan.clamd.timeout: must be at least 1s")
	}
	p := s.Quarantine.Prefix
	blobs := strings.Trim(c.Storage.Blobs.Prefix, "/")
	switch {
	case !quarantinePrefixRE.MatchString(p) || strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./"):
		bad("scan.quarantine.prefix: %q must be key segments of letters, digits, '.', '_' or '-' separated by '/'", p)
	case p == blobs || p == strings.TrimPrefix(blobs+"/index", "/"):
		bad("scan.quarantine.prefix: %q must differ from storage.blobs.prefix (and its index/)", p)
	}
}

// validClamdAddress mirrors storage/clamd.ParseAddress (config imports no other package
// of the project).
func validClamdAddress(a string) bool {
	u, err := url.Parse(a)
	if err != nil || u.RawQuery != "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "tcp":
		return u.Hostname() != "" && u.Port() != "" && (u.Path == "" || u.Path == "/")
	case "unix":
		return u.Host == "" && strings.HasPrefix(u.Path, "/")
	}
	return false
}
