package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/bus"
)

// TestMain lets the test binary act as instroom itself, for tests that run and kill it as
// a separate process.
func TestMain(m *testing.M) {
	if os.Getenv("INSTROOM_TEST_AS_MAIN") == "1" {
		os.Unsetenv("INSTROOM_TEST_AS_MAIN")
		main()
		return
	}
	os.Exit(m.Run())
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(rel, "data") || strings.Contains(rel, ".Verwerkt") || strings.Contains(rel, ".Mislukt") {
			return nil
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, nil)
	return code, out.String(), errb.String()
}

// TestQuickStart runs the README's command on a copy of the shipped example.
func TestQuickStart(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../../examples", dir)
	mails, _ := os.ReadDir(filepath.Join(dir, "inbox", "new"))
	if len(mails) == 0 {
		t.Fatal("the example inbox is empty")
	}
	// As after a clone some time ago: drop-zone files younger than min_age wait.
	letters, _ := filepath.Glob(filepath.Join(dir, "brieven", "*", "*"))
	for _, f := range letters {
		old := time.Now().Add(-time.Minute)
		os.Chtimes(f, old, old)
	}
	code, _, stderr := runCLI(t, "run", "-config", filepath.Join(dir, "instroom.yaml"), "-once")
	if code != 0 {
		t.Fatalf("instroom run = exit %d: %s", code, stderr)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "inbox", "new")); len(left) != 0 {
		t.Errorf("%d mails left in the inbox", len(left))
	}
	if done, _ := os.ReadDir(filepath.Join(dir, "inbox", ".Verwerkt", "cur")); len(done) != len(mails) {
		t.Errorf("processed folder holds %d mails, want %d", len(done), len(mails))
	}
	// The example drop zone holds one letter (sidecar and scan) of vendor scanstraat.
	if done, _ := os.ReadDir(filepath.Join(dir, "brieven", "scanstraat", "processed")); len(done) != 2 {
		t.Errorf("letter drop zone processed/ holds %d files, want the sidecar and its scan", len(done))
	}
	recs, err := bus.ReadAll(filepath.Join(dir, "data", "events", "klantcontacten.jsonl"))
	if err != nil || len(recs) != len(mails)+1 {
		t.Fatalf("klantcontacten events = %d (%v), want %d mails and a letter", len(recs), err, len(mails)+1)
	}
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		var reg ingest.Registration
		if err := json.Unmarshal(r.Value, &reg); err != nil {
			t.Fatal(err)
		}
		if err := ingesttest.ValidateRegistration(&reg); err != nil {
			t.Error(err)
		}
		if err := ev.Validate(toMessage(r)); err != nil {
			t.Error(err)
		}
		for _, io := range reg.Informatieobjecten {
			if _, err := os.Stat(filepath.Join(dir, "data", "objects", io.ObjectKey)); err != nil {
				t.Errorf("object of the event missing: %v", err)
			}
		}
	}
}

func toMessage(r bus.Record) ingest.Message {
	m := ingest.Message{Topic: r.Topic, Key: r.Key, Value: r.Value}
	for k, v := range r.Headers {
		m.Headers = append(m.Headers, ingest.Header{Key: k, Value: v})
	}
	return m
}

func TestInspectPrintsValidRegistration(t *testing.T) {
	code, out, stderr := runCLI(t, "inspect", "../../channels/mail/testdata/14-attachments-inline.eml")
	if code != 0 {
		t.Fatalf("inspect = exit %d: %s", code, stderr)
	}
	var reg ingest.Registration
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatalf("inspect output is not JSON: %v", err)
	}
	if err := ingesttest.ValidateRegistration(&reg); err != nil {
		t.Error(err)
	}
	if len(reg.Informatieobjecten) != 4 || len(reg.InterneTaken) != 1 {
		t.Errorf("inspect: %d informatieobjecten, %d taken; want 4 and 1", len(reg.Informatieobjecten), len(reg.InterneTaken))
	}
	code, _, stderr = runCLI(t, "inspect", "../../channels/mail/testdata/notmail/scan.pdf")
	if code != 1 || !strings.Contains(stderr, "not an e-mail message") {
		t.Errorf("inspect(pdf) = exit %d, %q; want exit 1 naming the problem", code, stderr)
	}
	// Every channel: a letter's sidecar, its scan beside it, the vendor from its folder.
	code, out, stderr = runCLI(t, "inspect", "-channel", "brief", "../../examples/brieven/scanstraat/SCAN-20240312-000123.json")
	if code != 0 {
		t.Fatalf("inspect -channel brief = exit %d: %s", code, stderr)
	}
	reg = ingest.Registration{}
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatalf("inspect output is not JSON: %v", err)
	}
	if err := ingesttest.ValidateRegistration(&reg); err != nil {
		t.Error(err)
	}
	if reg.Klantcontact.UUID != "7d4a06c7-6e65-5171-8f09-f8ef160ad9db" || reg.Klantcontact.Kanaal != "Brief" {
		t.Errorf("inspect -channel brief: klantcontact %s %q, want the contract's 7d4a06c7-… and Brief", reg.Klantcontact.UUID, reg.Klantcontact.Kanaal)
	}
	if code, _, stderr := runCLI(t, "inspect", "-channel", "fax", "../../examples/brieven/scanstraat/SCAN-20240312-000123.json"); code != 1 || !strings.Contains(stderr, `no channel "fax"`) {
		t.Errorf("inspect -channel fax = exit %d, %q; want the unknown channel named", code, stderr)
	}
}

func TestCheckConfig(t *testing.T) {
	code, out, _ := runCLI(t, "check-config", "-config", "../../examples/instroom.yaml")
	if code != 0 || !strings.Contains(out, "voorbeeldgemeente") {
		t.Errorf("check-config(example) = exit %d, %q", code, out)
	}
	code, _, stderr := runCLI(t, "check-config", "-config", "../../config/testdata/unknown-key.yaml")
	if code != 1 || !strings.Contains(stderr, "max_mesage_bytes") || !strings.Contains(stderr, "line 6") {
		t.Errorf("check-config(unknown key) = exit %d, %q; want exit 1 naming the key and line", code, stderr)
	}
	// A channel's own keys are checked by the channel, with path and line; so are the
	// channel and type of every source.
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"sources:\n  - name: info\n    type: maildir\n    path: inbox\n    pol_interval: 5s\n", "sources[0].pol_interval: unknown key (line 5)"},
		{"sources:\n  - {type: pop3, path: x}\n", `sources[0].type: "pop3" is not one of dir, imap, maildir, s3 (channel email)`},
		{"sources:\n  - {type: dir, path: x, channel: fax}\n", `sources[0].channel: "fax" is not one of email`},
		{"sources:\n  - {type: dir, path: x}\nchannels:\n  email: {parse_timout: 5s}\n", "channels.email.parse_timout: unknown key (line 4)"},
		{"sources:\n  - {type: dir, path: x}\nchannels:\n  telex: {}\n", `there is no channel "telex"`},
		{"sources:\n  - {type: dir, path: x}\nmapping:\n  kanalen:\n    email: {kanaal: E-mail, by_kanaal: {a: b}}\n", "mapping.kanalen.email.by_kanaal: unknown key (line 5)"},
		{"sources:\n  - {type: dir, path: x}\nmapping:\n  kanalen:\n    chat: {kanaal: Chat, by_kanaal: {signal: ''}}\n", "mapping.kanalen.chat.by_kanaal: keys and values must not be empty"},
		{"sources:\n  - {type: dir, path: x}\nmapping:\n  kanalen:\n    fax: {kanaal: Fax}\n", `mapping.kanalen.fax: there is no channel "fax"`},
		{"sources:\n  - {type: imap, imap: {address: imap.example.nl:143, security: plain, username: u, password: p}}\n", "unencrypted"},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(tc.yaml), 0o644)
		if code, _, stderr := runCLI(t, "check-config", "-config", p); code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("check-config(%q) = exit %d, %q; want exit 1 with %q", tc.yaml, code, stderr, tc.want)
		}
	}
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("sources:\n  - {type: imap, imap: {address: 127.0.0.1:143, security: plain, username: u, password: hunter2}}\n"), 0o644)
	if code, out, stderr := runCLI(t, "check-config", "-config", p); code != 0 || strings.Contains(out, "hunter2") || !strings.Contains(out, "<secret>") {
		t.Errorf("check-config(plain IMAP on loopback) = exit %d, %q, %q; want valid, password hidden", code, out, stderr)
	}
	if code, _, _ := runCLI(t, "run"); code != 1 {
		t.Errorf("run without -config = exit %d, want 1", code)
	}
	if code, _, _ := runCLI(t, "bogus"); code != 2 {
		t.Errorf("unknown command = exit %d, want 2", code)
	}
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "instroom ") {
		t.Errorf("version = exit %d, %q", code, out)
	}
}

// TestExampleProductionConfig keeps the shipped production example valid (its secret
// files are replaced by test files).
func TestExampleProductionConfig(t *testing.T) {
	b, err := os.ReadFile("../../examples/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"instroom-oauth-client-secret", "instroom-imap-belastingen", "instroom-s3-access-key", "instroom-s3-secret-key", "instroom-kafka-password"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600)
	}
	ca := ingesttest.NewTestCA(t, dir)
	cfg := strings.ReplaceAll(string(b), "/run/secrets/", dir+"/")
	cfg = strings.ReplaceAll(cfg, "/etc/instroom/gemeente-ca.pem", ca.CAFile)
	cfg = strings.ReplaceAll(cfg, "/etc/instroom/kafka-ca.pem", ca.CAFile)
	p := filepath.Join(dir, "production.yaml")
	os.WriteFile(p, []byte(cfg), 0o644)
	if code, _, stderr := runCLI(t, "check-config", "-config", p); code != 0 {
		t.Errorf("check-config(examples/production.yaml) = exit %d: %s", code, stderr)
	}
	// A CA file that is not there is noticed by check-config, not first at connect.
	os.WriteFile(p, []byte(strings.ReplaceAll(cfg, ca.CAFile, filepath.Join(dir, "ontbreekt.pem"))), 0o644)
	if code, _, stderr := runCLI(t, "check-config", "-config", p); code != 1 || !strings.Contains(stderr, "ca_file") || !strings.Contains(stderr, "ontbreekt.pem") {
		t.Errorf("check-config(missing CA file) = exit %d: %s; want exit 1 naming ca_file and the file", code, stderr)
	}
}

// TestCheckConfigPrintsIMAPDefaults: check-config prints the values in force, so the
// documented IMAP defaults appear instead of zero values.
func TestCheckConfigPrintsIMAPDefaults(t *testing.T) {
	b, err := os.ReadFile("../../examples/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"instroom-oauth-client-secret", "instroom-imap-belastingen", "instroom-s3-access-key", "instroom-s3-secret-key", "instroom-kafka-password"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600)
	}
	ca := ingesttest.NewTestCA(t, dir)
	cfg := strings.ReplaceAll(string(b), "/run/secrets/", dir+"/")
	cfg = strings.ReplaceAll(cfg, "/etc/instroom/gemeente-ca.pem", ca.CAFile)
	cfg = strings.ReplaceAll(cfg, "/etc/instroom/kafka-ca.pem", ca.CAFile)
	p := filepath.Join(dir, "production.yaml")
	os.WriteFile(p, []byte(cfg), 0o644)
	code, stdout, stderr := runCLI(t, "check-config", "-config", p)
	if code != 0 {
		t.Fatalf("check-config(examples/production.yaml) = exit %d: %s", code, stderr)
	}
	for _, want := range []string{"idle_timeout: 5m0s", "auth_retry: 5m0s", "processed_folder: Verwerkt", "failed_folder: Mislukt", "poll_interval: 2s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check-config(examples/production.yaml) prints no %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "idle_timeout: 0s") || strings.Contains(stdout, "auth_retry: 0s") {
		t.Errorf("check-config(examples/production.yaml) prints a zero default:\n%s", stdout)
	}
}
