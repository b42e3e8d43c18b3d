package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/config"
)

func TestLoadValid(t *testing.T) {
	c, err := config.Load("testdata/valid.yaml", nil)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	abs, _ := filepath.Abs("testdata/inbox")
	if c.Sources[0].Path != abs {
		t.Errorf("source path = %s, want %s (relative to the config file)", c.Sources[0].Path, abs)
	}
	if c.Sources[0].PollInterval != 5*time.Second || c.Sources[0].Channel != "email" {
		t.Errorf("source = %+v", c.Sources[0])
	}
	if c.Storage.Blobs.Path != "/var/lib/instroom/objects" || c.Storage.Events.Path != "/var/lib/instroom/events" {
		t.Errorf("storage paths = %s, %s", c.Storage.Blobs.Path, c.Storage.Events.Path)
	}
	if len(c.Routing.Rules) != 1 || c.Routing.Rules[0].Tasks[0].GevraagdeHandeling != "Lezen en bepalen benodigde actie" {
		t.Errorf("default routing = %+v, want the C1199 task", c.Routing)
	}
}

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	_, err := config.Load("testdata/unknown-key.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "max_mesage_bytes") || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("Load(unknown key) = %v, want an error naming max_mesage_bytes and line 6", err)
	}
}

func TestBadValuesAreAllReported(t *testing.T) {
	_, err := config.Load("testdata/bad-values.yaml", nil)
	if err == nil {
		t.Fatal("Load(bad values) = nil")
	}
	for _, want := range []string{"instance", "mapping.taal", "bronorganisatie", "routing.rules[0].when.subject", `"bestaat-niet" is not defined`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestBrokenYAML(t *testing.T) {
	_, err := config.Parse([]byte("sources: [\n  - {type: dir"), ".", nil)
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Errorf("Parse(broken) = %v, want an error with a line number", err)
	}
	if _, err := config.Load("testdata/does-not-exist.yaml", nil); err == nil {
		t.Error("Load(missing file) = nil, want error")
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		"INSTROOM_INSTANCE=uit-env",
		"INSTROOM_SOURCES_0_WORKERS=4",
		"INSTROOM_SOURCES_0_POLL_INTERVAL=250ms",
		"INSTROOM_SOURCES_0_PATTERNS=*.eml, *.msg",
		"INSTROOM_LIMITS_MAX_MESSAGE_BYTES=2048",
		"PATH=/usr/bin",
	}
	c, err := config.Load("testdata/valid.yaml", env)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	s := c.Sources[0]
	if c.Instance != "uit-env" || s.Workers != 4 || s.PollInterval != 250*time.Millisecond || len(s.Patterns) != 2 || c.Limits.MaxMessageBytes != 2048 {
		t.Errorf("overrides not applied: instance %s, source %+v, limits %+v", c.Instance, s, c.Limits)
	}
	for _, bad := range []string{"INSTROOM_SOURCES_0_WORKERS=veel", "INSTROOM_SOURCES_5_PATH=/x", "INSTROOM_LIMITS_MAX=1"} {
		if _, err := config.Load("testdata/valid.yaml", []string{bad}); err == nil {
			t.Errorf("Load with %s = nil, want error", bad)
		}
	}
	// Below a source, a variable may name a key of the source's channel: it is reported
	// once the channel decoded its settings without using it.
	c, err = config.Load("testdata/valid.yaml", []string{"INSTROOM_SOURCES_0_WORKRS=4"})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	var none struct{}
	if err := c.Sources[0].Settings().Decoder()(&none); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckEnvUsed(); err == nil || !strings.Contains(err.Error(), "INSTROOM_SOURCES_0_WORKRS") {
		t.Errorf("CheckEnvUsed = %v, want INSTROOM_SOURCES_0_WORKRS named", err)
	}
}

// secretHolder stands in for a configuration section with a secret (S3, Kafka, IMAP).
type secretHolder struct {
	Password     config.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
}

func TestSecretsNeverPrint(t *testing.T) {
	s := config.Secret("hunter2")
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
	b, _ := s.MarshalJSON()
	if strings.Contains(string(b), "hunter2") || s.Value() != "hunter2" {
		t.Errorf("MarshalJSON = %s, Value = %s", b, s.Value())
	}
	h := secretHolder{Password: s}
	if strings.Contains(fmt.Sprintf("%+v", h), "hunter2") {
		t.Errorf("secret printed inside a struct")
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw"), []byte("geheim\n"), 0o600)
	h := &secretHolder{PasswordFile: "pw"}
	if err := config.ResolveSecretFiles(h, dir); err != nil || h.Password.Value() != "geheim" {
		t.Errorf("ResolveSecretFiles = %v, password %q; want geheim", err, h.Password.Value())
	}
	both := &secretHolder{Password: "x", PasswordFile: "pw"}
	if err := config.ResolveSecretFiles(both, dir); err == nil {
		t.Error("ResolveSecretFiles(both set) = nil, want error")
	}
	missing := &secretHolder{PasswordFile: "nope"}
	if err := config.ResolveSecretFiles(missing, dir); err == nil || !strings.Contains(err.Error(), "password_file") || !strings.Contains(err.Error(), filepath.Join(dir, "nope")) {
		t.Errorf("ResolveSecretFiles(missing) = %v, want an error naming the key and the file", err)
	}
}

func TestValidRSIN(t *testing.T) {
	for in, want := range map[string]bool{"002220647": true, "123456789": false, "12345678": false, "00222064x": false} {
		if got := config.ValidRSIN(in); got != want {
			t.Errorf("ValidRSIN(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := config.Parse(b, "/tmp", nil)
		if err == nil && c.String() == "" {
			t.Fatal("valid config renders empty")
		}
	})
}

func TestProductionConfig(t *testing.T) {
	c, err := config.Load("testdata/production.yaml", []string{"INSTROOM_STORAGE_EVENTS_KAFKA_PASSWORD=uit-env", "INSTROOM_SOURCES_1_IMAP_PASSWORD=imap-uit-env"})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if c.Storage.Blobs.S3.SecretKey.Value() != "s3-geheim" || c.Storage.Events.Kafka.Password.Value() != "uit-env" {
		t.Errorf("secrets from file and env not applied")
	}
	// The IMAP block is the e-mail channel's: it decodes it (here: a stand-in struct).
	type oauth struct {
		ClientSecret     string `yaml:"client_secret" secret:"true"`
		ClientSecretFile string `yaml:"client_secret_file"`
		Tenant           string `yaml:"tenant"`
		ClientID         string `yaml:"client_id"`
	}
	type imap struct {
		Address  string   `yaml:"address"`
		Auth     string   `yaml:"auth"`
		Username string   `yaml:"username"`
		Password string   `yaml:"password" secret:"true"`
		OAuth2   *oauth   `yaml:"oauth2"`
		Folders  []string `yaml:"folders"`
		Security string   `yaml:"security"`
		Backlog  string   `yaml:"backlog"`
		Since    string   `yaml:"since"`
	}
	type settings struct {
		IMAP *imap `yaml:"imap"`
	}
	var s0, s1 settings
	if err := c.Sources[0].Settings().Decoder()(&s0); err != nil {
		t.Fatalf("decoding sources[0] = %v", err)
	}
	if err := c.Sources[1].Settings().Decoder()(&s1); err != nil {
		t.Fatalf("decoding sources[1] = %v", err)
	}
	if s0.IMAP.OAuth2.ClientSecret != "app-geheim" || s1.IMAP.Password != "imap-uit-env" || len(s0.IMAP.Folders) != 2 {
		t.Errorf("imap settings = %+v / %+v: secret file or env override not applied", s0.IMAP.OAuth2, s1.IMAP)
	}
	if err := c.CheckEnvUsed(); err != nil {
		t.Errorf("CheckEnvUsed = %v", err)
	}
	out := c.String()
	for _, secret := range []string{"app-geheim", "s3-geheim", "uit-env", "imap-wachtwoord", "imap-uit-env"} {
		if strings.Contains(out, secret) || strings.Contains(fmt.Sprintf("%+v", c), secret) {
			t.Errorf("configuration output shows secret %q", secret)
		}
	}
	if !strings.Contains(out, "<secret>") || !strings.Contains(out, "outlook.office365.com:993") {
		t.Errorf("configuration output does not show the source settings with secrets marked:\n%s", out)
	}
}

// TestChannelSettingsStrict: a channel's keys are decoded strictly, and an environment
// variable that no setting uses is reported once the channels have decoded theirs.
func TestChannelSettingsStrict(t *testing.T) {
	type settings struct {
		Folder string `yaml:"processed_folder"`
		Nested *struct {
			Port int `yaml:"port"`
		} `yaml:"nested"`
	}
	c, err := config.Parse([]byte("sources:\n  - type: maildir\n    path: x\n    processed_folder: Klaar\n    nested: {port: 1, prot: 2}\n    verwerkt: ja\n"), ".", []string{"INSTROOM_SOURCES_0_PROCESSED_FOLDER=Gedaan", "INSTROOM_SOURCES_0_NESTED_POORT=3"})
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	var s settings
	err = c.Sources[0].Settings().Decoder()(&s)
	if err == nil || !strings.Contains(err.Error(), "sources[0].verwerkt: unknown key (line 6)") || !strings.Contains(err.Error(), "sources[0].nested.prot: unknown key (line 5)") {
		t.Errorf("Decoder = %v, want both unknown keys with path and line", err)
	}
	c, _ = config.Parse([]byte("sources:\n  - type: maildir\n    path: x\n    processed_folder: Klaar\n"), ".", []string{"INSTROOM_SOURCES_0_PROCESSED_FOLDER=Gedaan", "INSTROOM_SOURCES_0_NESTED_POORT=3"})
	s = settings{}
	if err := c.Sources[0].Settings().Decoder()(&s); err != nil || s.Folder != "Gedaan" {
		t.Errorf("Decoder = %v, folder %q; want the env override Gedaan", err, s.Folder)
	}
	if err := c.CheckEnvUsed(); err == nil || !strings.Contains(err.Error(), "INSTROOM_SOURCES_0_NESTED_POORT") {
		t.Errorf("CheckEnvUsed = %v, want the unused variable named", err)
	}
}

func TestPlainTextGuards(t *testing.T) {
	s3 := "sources: [{type: dir, path: x}]\nstorage: {blobs: {type: s3, s3: {endpoint: %s, bucket: b, insecure: true}}}\n"
	if _, err := config.Parse([]byte(fmt.Sprintf(s3, "s3.example.nl")), ".", nil); err == nil {
		t.Error("plain HTTP S3 to a remote host = nil, want refused")
	}
	if _, err := config.Parse([]byte(fmt.Sprintf(s3, "127.0.0.1:7070")), ".", nil); err != nil {
		t.Errorf("plain HTTP S3 on loopback = %v", err)
	}
}

// TestDecodeErrorsNameYAMLPath: a value of the wrong type is reported with its YAML path,
// its line and what was expected, not with a Go type.
func TestDecodeErrorsNameYAMLPath(t *testing.T) {
	tests := []struct {
		yaml string
		want string
	}{
		{"data_dir: data\n\n\n\n\nlimits: {max_message_bytes: veel}\n",
			"limits.max_message_bytes (line 6): expected a whole number, got a string"},
		{"shutdown:\n  drain_timeout: lang\n",
			"shutdown.drain_timeout (line 2): expected a duration such as 30s or 5m, got a string"},
		{"routing:\n  rules:\n    - name: r\n      continue: misschien\n",
			"routing.rules[0].continue (line 4): expected true or false, got a string"},
		{"routing:\n  rules:\n    - name: r\n      when:\n        channels: email\n",
			"routing.rules[0].when.channels (line 5): expected a list, got a string"},
		{"sources: dir\n", "sources (line 1): expected a list, got a string"},
		{"limits: 5\n", "limits (line 1): expected a mapping of keys and values, got a whole number"},
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte(tt.yaml), ".", nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.yaml, err, tt.want)
			continue
		}
		for _, goType := range []string{"int64", "time.Duration", "bool", "[]string", "!!str", "config."} {
			if strings.Contains(err.Error(), goType) {
				t.Errorf("Parse(%q) = %v, names the Go type or tag %s", tt.yaml, err, goType)
			}
		}
	}
}

// TestDecodeErrorsTwoAtOnce: every wrong value is reported, each with its own path.
func TestDecodeErrorsTwoAtOnce(t *testing.T) {
	_, err := config.Parse([]byte("limits:\n  max_message_bytes: veel\nshutdown:\n  drain_timeout: lang\n"), ".", nil)
	if err == nil || !strings.Contains(err.Error(), "limits.max_message_bytes (line 2)") || !strings.Contains(err.Error(), "shutdown.drain_timeout (line 4)") {
		t.Errorf("Parse(two wrong values) = %v, want both paths", err)
	}
}

// TestChannelSettingsDecodeErrorsNameYAMLPath: the same for channel settings decoded
// through Settings.Decoder.
func TestChannelSettingsDecodeErrorsNameYAMLPath(t *testing.T) {
	type settings struct {
		IMAP *struct {
			Folders     []string      `yaml:"folders"`
			IdleTimeout time.Duration `yaml:"idle_timeout"`
			AllowPlain  bool          `yaml:"allow_plain"`
			Port        int           `yaml:"port"`
		} `yaml:"imap"`
	}
	c, err := config.Parse([]byte("sources:\n  - type: imap\n    imap:\n      folders: INBOX\n      idle_timeout: lang\n      allow_plain: ja graag\n      port: poort\n"), ".", nil)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	var s settings
	err = c.Sources[0].Settings().Decoder()(&s)
	for _, want := range []string{
		"sources[0].imap.folders (line 4): expected a list, got a string",
		"sources[0].imap.idle_timeout (line 5): expected a duration such as 30s or 5m, got a string",
		"sources[0].imap.allow_plain (line 6): expected true or false, got a string",
		"sources[0].imap.port (line 7): expected a whole number, got a string",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decoder = %v, want %q", err, want)
		}
	}
}
