package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest/ingesttest"
)

// privacyServers are the real servers the log-privacy passes share: Dovecot, versitygw
// and a kfake broker.
type privacyServers struct {
	dovecot *ingesttest.Dovecot
	s3      *ingesttest.S3Server
	kafka   *ingesttest.Kafka
}

// privacyFormats are the log formats a pass runs with; each has its own IMAP account and
// topics.
var privacyFormats = []string{"json", "text"}

// TestLogPrivacy is the log-privacy test of issue 10: one worker process per log format,
// at log.level debug, reads mail over IMAP (Dovecot), from a Maildir and from a drop
// folder, letters from a drop zone and over the intake API, and transcripts from a drop
// zone and over the intake API, with failure paths on each (a non-mail, unknown headers,
// a mail over the limit, a mail that needs repair, a letter without its scan, a scan
// without its letter, invalid and non-JSON sidecars and transcripts, a scan that is not
// an image, an attachment whose fetch fails, an unknown token, a push over the limit).
// Distinct random secrets are seeded into subjects, bodies, names, addresses, phone
// numbers, file names, URLs, sidecar and transcript fields. Nothing the worker wrote
// (stdout, stderr, every level), nothing /metrics and /readyz serve and no dead-letter
// event may hold any of them; the klantcontacten must, so the work was really done.
func TestLogPrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("log-privacy test runs the worker against real servers")
	}
	var topics []string
	users := map[string]string{}
	for _, f := range privacyFormats {
		topics = append(topics, "klantcontacten-"+f, "internetaken-"+f, "deadletter-"+f)
		users["priv"+f] = "wachtwoord-" + f
	}
	srv := &privacyServers{
		dovecot: ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: users}),
		s3:      ingesttest.StartS3(t, nil),
		kafka:   ingesttest.StartKafka(t, ingesttest.KafkaOptions{Topics: topics}),
	}
	srv.s3.CreateBucket(t, "instroom")
	for _, f := range privacyFormats {
		t.Run(f, func(t *testing.T) { privacyPass(t, srv, f) })
	}
}

// privacyRun is one pass: its directory, secrets, addresses and the worker's output.
type privacyRun struct {
	t       *testing.T
	srv     *privacyServers
	format  string
	dir     string
	sec     *secretSet
	intake  string // http://host:port
	ops     string
	stdout  *syncBuffer
	stderr  *syncBuffer
	subject []string // subject secrets of the items that must be registered
}

const (
	privacyBriefToken = "privacy-token-scanstraat-00112233445566778899aabbccddeeff"
	privacyChatToken  = "privacy-token-chatleverancier-00112233445566778899aabbccddeeff"
	privacyFetchHost  = "bijlagen.chatleverancier.invalid"
)

// privacyPass seeds every source, runs the worker with the given log format until every
// item is settled, stops it and searches what it wrote and served for the secrets.
func privacyPass(t *testing.T, srv *privacyServers, format string) {
	r := &privacyRun{t: t, srv: srv, format: format, dir: t.TempDir(), sec: &secretSet{}, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	r.writeConfig()
	r.seedMail()
	r.seedLetters()
	r.seedTranscripts()
	cmd := r.start()
	r.push()
	r.waitDone()
	metrics := r.get(r.ops+"/metrics") + r.get(r.ops+"/readyz")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("worker after SIGTERM: %v", err)
	}
	logs := r.stdout.String() + r.stderr.String()
	t.Logf("%d secrets seeded; the worker wrote %d bytes of log, /metrics and /readyz %d bytes", len(r.sec.list), len(logs), len(metrics))

	for _, l := range r.sec.leaks(logs) {
		t.Errorf("the worker's log holds a secret from the %s", l)
	}
	for _, l := range r.sec.leaks(metrics) {
		t.Errorf("/metrics or /readyz holds a secret from the %s", l)
	}
	r.checkLogsReal(logs, metrics)
	r.checkEvents()
	if t.Failed() || testing.Verbose() {
		t.Logf("worker log:\n%s", tail(logs, 20000))
	}
}

// writeConfig writes the pass's configuration: debug level in its format, every source.
func (r *privacyRun) writeConfig() {
	intake := fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(r.t))
	ops := fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(r.t))
	r.intake, r.ops = "http://"+intake, "http://"+ops
	hash := func(tok string) string { s := sha256.Sum256([]byte(tok)); return hex.EncodeToString(s[:]) }
	s3 := r.srv.s3
	cfg := fmt.Sprintf(`instance: privacy-%[1]s
data_dir: data
log: {level: debug, format: %[1]s}
ops: {listen: %[2]s}
intake:
  listen: %[3]s
  max_gesprek_bytes: 65536
  vendors:
    scanstraat: {channels: [brief], token_sha256: [%[4]s]}
    chatleverancier: {channels: [chat], token_sha256: [%[5]s], url_hosts: [%[6]s, localhost]}
sources:
  - name: imap
    type: imap
    imap: {address: %[7]s, security: plain, username: priv%[1]s, password: wachtwoord-%[1]s, idle_timeout: 10s}
  - {name: maildir, type: maildir, path: maildir, poll_interval: 100ms}
  - {name: drop, type: dir, path: drop, min_age: -1s, poll_interval: 100ms}
  - {name: brieven, type: dir, channel: brief, path: brieven, min_age: -1s, poll_interval: 100ms, pair_timeout: 30s}
  - {name: gesprekken, type: dir, channel: chat, path: gesprekken, min_age: -1s, poll_interval: 100ms, workers: 2}
storage:
  blobs:
    type: s3
    prefix: privacy-%[1]s
    s3: {endpoint: %[8]s, bucket: instroom, path_style: true, insecure: true, access_key: %[9]s, secret_key: %[10]s}
  events:
    type: kafka
    topics: {klantcontacten: klantcontacten-%[1]s, internetaken: internetaken-%[1]s, deadletter: deadletter-%[1]s}
    kafka: {brokers: [%[11]s]}
limits: {max_message_bytes: 262144}
shutdown: {drain_timeout: 2s}
`, r.format, ops, intake, hash(privacyBriefToken), hash(privacyChatToken), privacyFetchHost,
		r.srv.dovecot.Addr, s3.Endpoint, s3.AccessKey, s3.SecretKey, r.srv.kafka.Addr)
	r.write("instroom.yaml", []byte(cfg))
}

// write writes a file below the pass's directory, creating its directory.
func (r *privacyRun) write(rel string, b []byte) string {
	p := filepath.Join(r.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// start runs the worker as its own process and waits for its intake API.
func (r *privacyRun) start() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "run", "-config", filepath.Join(r.dir, "instroom.yaml"))
	cmd.Env = append(os.Environ(), "INSTROOM_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := ingesttest.WaitPort(strings.TrimPrefix(r.intake, "http://"), 30*time.Second); err != nil {
		r.t.Fatalf("%v\nworker log:\n%s", err, r.stderr.String())
	}
	return cmd
}

// get returns the body of a GET.
func (r *privacyRun) get(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		r.t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// checkLogsReal makes sure the logs and metrics could have shown a leak: the level was
// debug, the format the configured one, the failure paths were logged, and the metrics
// counted the items.
func (r *privacyRun) checkLogsReal(logs, metrics string) {
	t := r.t
	debug, first := `"level":"DEBUG"`, "{"
	if r.format == "text" {
		debug, first = "level=DEBUG", "time="
	}
	if !strings.Contains(logs, debug) || !strings.Contains(logs, "item registered") {
		t.Errorf("no debug line about a registered item in the log: the level was not debug")
	}
	for line := range strings.Lines(r.stderr.String()) {
		if !strings.HasPrefix(line, first) {
			t.Errorf("log line not in format %s: %.200q", r.format, line)
			break
		}
	}
	for _, want := range []string{"item failed permanently", "item failed; retrying", "reason=too_large", "reason=unparseable", "reason=invalid"} {
		if r.format == "json" {
			want = strings.Replace(want, "reason=", `"reason":"`, 1)
		}
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %q: a failure path was not taken", want)
		}
	}
	for _, want := range []string{`outcome="permanent"`, `outcome="ok"`, `instroom_dead_letters_total{`, `intake_requests_total{`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}
