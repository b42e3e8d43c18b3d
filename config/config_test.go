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
	if err == nil || !strings.Contains(err.Error(), "pol_interval") || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("Load(unknown key) = %v, want an error naming pol_interval and line 6", err)
	}
}

func TestBadValuesAreAllReported(t *testing.T) {
	_, err := config.Load("testdata/bad-values.yaml", nil)
	if err == nil {
		t.Fatal("Load(bad values) = nil")
	}
	for _, want := range []string{"instance", "mapping.taal", "bronorganisatie", "routing.rules[0].when.subject", `"bestaat-niet" is not defined`, "sources[0].type"} {
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
	for _, bad := range []string{"INSTROOM_SOURCES_0_WORKRS=4", "INSTROOM_SOURCES_0_WORKERS=veel", "INSTROOM_SOURCES_5_PATH=/x"} {
		if _, err := config.Load("testdata/valid.yaml", []string{bad}); err == nil {
			t.Errorf("Load with %s = nil, want error", bad)
		}
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
	if err := config.ResolveSecretFiles(missing, dir); err == nil || strings.Contains(err.Error(), dir) {
		t.Errorf("ResolveSecretFiles(missing) = %v, want an error", err)
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
	c, err := config.Load("testdata/production.yaml", []string{"INSTROOM_STORAGE_EVENTS_KAFKA_PASSWORD=uit-env"})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	im := c.Sources[0].IMAP
	if im.OAuth2.ClientSecret.Value() != "app-geheim" || im.OAuth2.TokenURL != "https://login.microsoftonline.com/gemeente.onmicrosoft.com/oauth2/v2.0/token" ||
		im.OAuth2.Scopes[0] != "https://outlook.office365.com/.default" || im.Security != "tls" {
		t.Errorf("imap oauth2 = %+v, security %s", im.OAuth2, im.Security)
	}
	if c.Storage.Blobs.S3.SecretKey.Value() != "s3-geheim" || c.Storage.Events.Kafka.Password.Value() != "uit-env" {
		t.Errorf("secrets from file and env not applied")
	}
	out := c.String()
	for _, secret := range []string{"app-geheim", "s3-geheim", "uit-env", "imap-wachtwoord"} {
		if strings.Contains(out, secret) || strings.Contains(fmt.Sprintf("%+v", c), secret) {
			t.Errorf("configuration output shows secret %q", secret)
		}
	}
	if !strings.Contains(out, "<secret>") {
		t.Errorf("configuration output does not mark secrets:\n%s", out)
	}
}

func TestPlainTextGuards(t *testing.T) {
	base := "sources:\n  - name: x\n    type: imap\n    imap: {address: %s, security: plain, username: u, password: p%s}\n"
	if _, err := config.Parse([]byte(fmt.Sprintf(base, "imap.example.nl:143", "")), ".", nil); err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("plain IMAP to a remote host = %v, want refused", err)
	}
	for _, ok := range []string{fmt.Sprintf(base, "127.0.0.1:143", ""), fmt.Sprintf(base, "imap.example.nl:143", ", allow_plain: true")} {
		if _, err := config.Parse([]byte(ok), ".", nil); err != nil {
			t.Errorf("Parse(%q) = %v", ok, err)
		}
	}
	s3 := "sources: [{type: dir, path: x}]\nstorage: {blobs: {type: s3, s3: {endpoint: %s, bucket: b, insecure: true}}}\n"
	if _, err := config.Parse([]byte(fmt.Sprintf(s3, "s3.example.nl")), ".", nil); err == nil {
		t.Error("plain HTTP S3 to a remote host = nil, want refused")
	}
	if _, err := config.Parse([]byte(fmt.Sprintf(s3, "127.0.0.1:7070")), ".", nil); err != nil {
		t.Errorf("plain HTTP S3 on loopback = %v", err)
	}
}
