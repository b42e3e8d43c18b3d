// Package config loads Instroom's configuration: a YAML file, strict (an unknown key fails
// with its name and line), then environment overrides (INSTROOM_<PATH>, for example
// INSTROOM_DATA_DIR or INSTROOM_SOURCES_0_PATH), then secrets from *_file keys, then
// defaults and validation. Secrets never print: a Secret renders as <secret>.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration.
type Config struct {
	// Instance names this installation; it is the CloudEvents source ("urn:instroom:<instance>").
	Instance string `yaml:"instance"`
	// DataDir holds the embedded-default blob store and event log (default ./data).
	DataDir  string   `yaml:"data_dir"`
	Log      Log      `yaml:"log"`
	Ops      Ops      `yaml:"ops"`
	Mapping  Mapping  `yaml:"mapping"`
	Routing  *Routing `yaml:"routing"`
	Sources  []Source `yaml:"sources"`
	Storage  Storage  `yaml:"storage"`
	Limits   Limits   `yaml:"limits"`
	Shutdown Shutdown `yaml:"shutdown"`
	// Intake is the vendor intake API server.
	Intake Intake `yaml:"intake"`
	// Scan configures virus scanning with clamd (off unless scan.clamd.address is set).
	Scan Scan `yaml:"scan"`
	// ScaleOut shares the sources among replicas (off unless scale_out.group is set).
	ScaleOut ScaleOut `yaml:"scale_out"`
	// Channels holds each channel's own settings (channels.<name>), decoded by the
	// channel.
	Channels map[string]yaml.Node `yaml:"channels"`

	dir      string // directory of the config file, for relative paths
	env      *envVars
	channels map[string]*Settings
	kanalen  map[string]*Settings
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error (default info)
	Format string `yaml:"format"` // json or text (default json)
}

// Ops configures the operations HTTP endpoint (/metrics, /healthz).
type Ops struct {
	// Listen is the address to serve on; empty disables it.
	Listen string `yaml:"listen"`
}

// Source configures one source. The keys below are the ones every source has; the
// channel that reads the source decodes its own keys (an IMAP account, Maildir folders,
// ...) from Settings.
type Source struct {
	SourceCommon `yaml:",inline"`
	// Extra holds the channel-specific keys until the channel decodes them.
	Extra map[string]yaml.Node `yaml:",inline"`

	settings *Settings
}

// SourceCommon are the keys every source has.
type SourceCommon struct {
	Name    string `yaml:"name"`
	Type    string `yaml:"type"`    // a type of the channel: imap, maildir, dir, s3, ...
	Channel string `yaml:"channel"` // the channel the source feeds (default email)
	// Path is the directory of a dir or maildir source.
	Path string `yaml:"path"`
	// Prefix is the key prefix of an s3 source.
	Prefix string `yaml:"prefix"`
	// S3 is the connection of an s3 source; default storage.blobs.s3.
	S3 *S3 `yaml:"s3"`
	// Patterns and MinAge (dir and s3 drop zones).
	Patterns []string      `yaml:"patterns"`
	MinAge   time.Duration `yaml:"min_age"`
	// PollInterval between listings when idle (default 2s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// Workers handling items of this source at the same time (default 1).
	Workers int `yaml:"workers"`
}

// Settings returns the source's channel-specific keys, for its channel to decode.
func (s *Source) Settings() *Settings { return s.settings }

// MarshalYAML prints the common keys and the channel's settings (secrets hidden).
func (s Source) MarshalYAML() (any, error) {
	b, err := yaml.Marshal(s.SourceCommon)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if s.settings != nil {
		extra, err := s.settings.MarshalYAML()
		if err != nil {
			return nil, err
		}
		b, err := yaml.Marshal(extra)
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// Intake configures the vendor intake API and the vendors that deliver items.
type Intake struct {
	// Listen is the address to serve on; empty disables the API.
	Listen string `yaml:"listen"`
	TLS    *TLS   `yaml:"tls"`
	// AllowPlain allows plain HTTP on a non-loopback address (behind a TLS proxy).
	AllowPlain bool `yaml:"allow_plain"`
	// MaxBriefBytes and MaxGesprekBytes bound one request body (default 50 MiB, 5 MiB).
	MaxBriefBytes   int64 `yaml:"max_brief_bytes"`
	MaxGesprekBytes int64 `yaml:"max_gesprek_bytes"`
	// Vendors by key.
	Vendors map[string]Vendor `yaml:"vendors"`
}

// Vendor configures one vendor that delivers items (over the API or as files).
type Vendor struct {
	Channels    []string `yaml:"channels"`
	TokenSHA256 []string `yaml:"token_sha256"`
	Rate        float64  `yaml:"rate"`
	Burst       int      `yaml:"burst"`
	URLHosts    []string `yaml:"url_hosts"`
	// WebhookSecrets (whsec_...) or a file with one per line.
	WebhookSecrets     []Secret `yaml:"webhook_secrets"`
	WebhookSecretsFile string   `yaml:"webhook_secrets_file"`
}

// TLS names a certificate and key (PEM files).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Storage configures where objects and events go.
type Storage struct {
	Blobs  Blobs  `yaml:"blobs"`
	Events Events `yaml:"events"`
}

// Blobs configures the blob store.
type Blobs struct {
	Type   string `yaml:"type"` // dir (default) or s3
	Path   string `yaml:"path"` // dir: default <data_dir>/objects
	Prefix string `yaml:"prefix"`
	S3     *S3    `yaml:"s3"`
}

// S3 configures an S3-compatible object store.
type S3 struct {
	Endpoint  string `yaml:"endpoint"` // host:port, no scheme
	Region    string `yaml:"region"`
	Bucket    string `yaml:"bucket"`
	PathStyle bool   `yaml:"path_style"`
	// Insecure uses plain HTTP (only for a loopback endpoint, or with allow_insecure).
	Insecure      bool   `yaml:"insecure"`
	AllowInsecure bool   `yaml:"allow_insecure"`
	CAFile        string `yaml:"ca_file"`
	// AccessKey and SecretKey; when both are empty, the AWS_* environment variables or
	// the instance's IAM role are used.
	AccessKey     Secret `yaml:"access_key"`
	AccessKeyFile string `yaml:"access_key_file"`
	SecretKey     Secret `yaml:"secret_key"`
	SecretKeyFile string `yaml:"secret_key_file"`
	// SSE: "" (none), AES256 or aws:kms (with kms_key_id).
	SSE      string `yaml:"sse"`
	KMSKeyID string `yaml:"kms_key_id"`
	PartSize int64  `yaml:"part_size"`
}

// Events configures the event publisher.
type Events struct {
	Type   string `yaml:"type"` // log (default) or kafka
	Path   string `yaml:"path"` // log: default <data_dir>/events
	Topics Topics `yaml:"topics"`
	Kafka  *Kafka `yaml:"kafka"`
}

// Kafka configures the Kafka publisher.
type Kafka struct {
	Brokers []string `yaml:"brokers"`
	// TLS enables TLS; ca_file and server_name adjust it.
	TLS        bool   `yaml:"tls"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
	// SASL: "" (none), PLAIN, SCRAM-SHA-512 or SCRAM-SHA-256.
	SASL         string `yaml:"sasl"`
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Compression: none (default), gzip, snappy, lz4 or zstd.
	Compression  string        `yaml:"compression"`
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	ClientID     string        `yaml:"client_id"`
}

// Topics names the topics.
type Topics struct {
	Klantcontacten string `yaml:"klantcontacten"`
	Internetaken   string `yaml:"internetaken"`
	DeadLetter     string `yaml:"deadletter"`
}

// Limits bound what is accepted.
type Limits struct {
	// MaxMessageBytes is the largest item accepted (default 50 MiB).
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxAttempts is how many attempts at one item may end without an outcome (the
	// worker died during them, or they ran past ItemTimeout) before the item goes to
	// failed with reason "poison" (default 3). Counted in data_dir, across restarts.
	MaxAttempts int `yaml:"max_attempts"`
	// ItemTimeout bounds one attempt at one item (default 10m).
	ItemTimeout time.Duration `yaml:"item_timeout"`
	// RetryMaxBackoff caps the wait between retries of an item that failed temporarily,
	// and between attempts to read a source that failed (default 5s): after an outage the
	// worker is back within about this long.
	RetryMaxBackoff time.Duration `yaml:"retry_max_backoff"`
}

// Shutdown configures the graceful stop.
type Shutdown struct {
	// DrainTimeout is how long an item in flight may finish after SIGTERM (default 10s).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// Load reads and validates the configuration file at path, applying environment overrides
// from environ (os.Environ() form).
func Load(path string, environ []string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(b, filepath.Dir(abs), environ)
}

// Parse decodes, completes and validates a configuration. Relative paths are resolved
// against dir.
func Parse(b []byte, dir string, environ []string) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		var root yaml.Node
		if yaml.Unmarshal(b, &root) != nil {
			return nil, fmt.Errorf("config: %s", yamlErr(err))
		}
		return nil, fmt.Errorf("config: %s", strings.ReplaceAll(decodeError(err, &root, "").Error(), "\n", "\n  "))
	}
	c.dir = dir
	if err := applyEnv(c, environ); err != nil {
		return nil, err
	}
	c.settings()
	if err := ResolveSecretFiles(c, dir); err != nil {
		return nil, err
	}
	if err := resolveWebhookSecretFiles(c); err != nil {
		return nil, err
	}
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("config is invalid:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return c, nil
}

// Path resolves p against the config file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// ValidRSIN reports whether s is a 9-digit RSIN that passes the 11-proof.
func ValidRSIN(s string) bool {
	if !rsinRE.MatchString(s) {
		return false
	}
	sum := 0
	for i := 0; i < 8; i++ {
		sum += int(s[i]-'0') * (9 - i)
	}
	sum -= int(s[8] - '0')
	return sum%11 == 0
}

// String renders the configuration as YAML with secrets hidden.
func (c *Config) String() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return "config: " + err.Error()
	}
	return string(b)
}
