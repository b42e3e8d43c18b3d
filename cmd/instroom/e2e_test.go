package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
)

// stack is the production path on real servers: Dovecot, versitygw and Kafka (Apache
// Kafka under CI, kfake for quick local runs: ingesttest.StartBroker).
type stack struct {
	t       testing.TB
	dir     string
	dovecot *ingesttest.Dovecot
	s3      *ingesttest.S3Server
	kafka   *ingesttest.Broker
	cfg     string
	logBuf  *syncBuffer
}

// folders are the watched folders: two accounts, three folders.
var folders = []struct{ user, folder string }{{"info", "INBOX"}, {"info", "Doorgestuurd"}, {"belastingen", "INBOX"}}

// newStack starts the servers. With durableKafka a kfake broker keeps its log on disk
// (fsynced) so it survives a restart, as the outage test needs; Apache Kafka always does.
func newStack(t testing.TB, durableKafka bool) *stack {
	t.Helper()
	st := &stack{t: t, dir: t.TempDir(), logBuf: &syncBuffer{}}
	st.dovecot = ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: map[string]string{"info": "geheim1", "belastingen": "geheim2"}})
	st.s3 = ingesttest.StartS3(t, nil)
	st.s3.CreateBucket(t, "instroom")
	ko := ingesttest.KafkaOptions{Topics: []string{"klantcontacten", "internetaken", "instroom.deadletter", "bench"}}
	if durableKafka {
		ko.DataDir = filepath.Join(st.dir, "kafka")
	}
	st.kafka = ingesttest.StartBroker(t, ko)
	os.WriteFile(filepath.Join(st.dir, "info.pw"), []byte("geheim1\n"), 0o600)
	st.cfg = filepath.Join(st.dir, "instroom.yaml")
	cfg := fmt.Sprintf(`instance: e2e
log: {level: info}
sources:
  - name: info
    type: imap
    workers: 4
    imap:
      address: %[1]s
      security: plain
      username: info
      password_file: info.pw
      folders: [INBOX, Doorgestuurd]
      idle_timeout: 10s
  - name: belastingen
    type: imap
    workers: 4
    imap:
      address: %[1]s
      security: plain
      auth: login
      username: belastingen
      password: geheim2
      idle_timeout: 10s
storage:
  blobs:
    type: s3
    s3: {endpoint: %[2]s, bucket: instroom, path_style: true, insecure: true, access_key: %[3]s, secret_key: %[4]s}
  events:
    type: kafka
    kafka: {brokers: [%[5]s], compression: lz4}
# The crash tests kill the worker from outside at random: those deaths are not the
# items' doing, so they must not make an item poison.
limits: {max_message_bytes: 262144, max_attempts: 1000}
shutdown: {drain_timeout: 5s}
`, st.dovecot.Addr, st.s3.Endpoint, st.s3.AccessKey, st.s3.SecretKey, st.kafka.Addr)
	if err := os.WriteFile(st.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return st
}

// appendMails puts n mails (each with an attachment) round-robin into the watched folders.
func (st *stack) appendMails(start, n int) {
	per := map[int][][]byte{}
	for i := start; i < start+n; i++ {
		per[i%len(folders)] = append(per[i%len(folders)], synthMail(i, 2<<10+i*37%(8<<10)))
	}
	for f, mails := range per {
		st.dovecot.Append(st.t, folders[f].user, folders[f].folder, mails...)
	}
}

func (st *stack) inboxTotal() int {
	n := 0
	for _, f := range folders {
		n += st.dovecot.Count(st.t, f.user, f.folder)
	}
	return n
}

func (st *stack) processedTotal() int {
	return st.dovecot.Count(st.t, "info", "Verwerkt") + st.dovecot.Count(st.t, "belastingen", "Verwerkt")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the worker as its own process.
func (st *stack) start() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "run", "-config", st.cfg)
	cmd.Env = append(os.Environ(), "INSTROOM_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = st.logBuf, st.logBuf
	if err := cmd.Start(); err != nil {
		st.t.Fatal(err)
	}
	st.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// waitFor polls cond until it holds or the deadline passes.
func (st *stack) waitFor(what string, timeout time.Duration, cond func() bool) {
	st.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			st.t.Fatalf("timed out waiting for %s\nworker log:\n%s", what, tail(st.logBuf.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// consumed is everything on a topic, read back with a kafka-go consumer group.
func (st *stack) consume(topic string, atLeast int) []kafka.Message {
	st.t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{st.kafka.Addr}, Topic: topic, GroupID: fmt.Sprintf("check-%s-%d", topic, time.Now().UnixNano()),
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	var out []kafka.Message
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			if len(out) >= atLeast {
				return out
			}
			st.t.Fatalf("reading %s: %v after %d messages (want at least %d)", topic, err, len(out), atLeast)
		}
		out = append(out, m)
	}
}

// verify checks the end state: every mail exactly one klantcontact with identical
// repeats, one internetaak each, every object in S3 with the stated sha256, watched
// folders empty and processed folders full.
func (st *stack) verify(mails int) {
	t := st.t
	t.Helper()
	if n := st.inboxTotal(); n != 0 {
		t.Errorf("watched folders hold %d mails, want 0", n)
	}
	if n := st.processedTotal(); n != mails {
		t.Errorf("processed folders hold %d mails, want %d", n, mails)
	}
	store, err := blob.NewS3(blob.S3Options{Endpoint: st.s3.Endpoint, Bucket: "instroom", Region: "us-east-1", PathStyle: true, Insecure: true, AccessKey: st.s3.AccessKey, SecretKey: st.s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string][]byte{}
	for _, m := range st.consume("klantcontacten", mails) {
		if !bytes.Contains(m.Value, []byte(`"kanaal":"E-mail"`)) {
			continue // a letter or transcript of the same test
		}
		id := string(m.Key)
		if prev, ok := byID[id]; ok && !bytes.Equal(prev, m.Value) {
			t.Errorf("klantcontact %s was published twice with different payloads", id)
		}
		byID[id] = m.Value
		if h := header(m, "ce_type"); h != ingest.TypeKlantcontact {
			t.Errorf("ce_type = %q", h)
		}
	}
	if len(byID) != mails {
		t.Errorf("%d distinct klantcontacten on Kafka, want %d", len(byID), mails)
	}
	objects := 0
	for id, v := range byID {
		var reg ingest.Registration
		if err := json.Unmarshal(v, &reg); err != nil {
			t.Fatal(err)
		}
		if reg.Klantcontact.UUID != id {
			t.Errorf("key %s carries klantcontact %s", id, reg.Klantcontact.UUID)
		}
		for _, io := range reg.Informatieobjecten {
			objects++
			sum, n := s3Sum(t, store, io.ObjectKey)
			if sum != io.Integriteit.Waarde || n != io.Bestandsomvang {
				t.Errorf("object %s in S3: sha256 %s (%d bytes), event says %s (%d)", io.ObjectKey, sum, n, io.Integriteit.Waarde, io.Bestandsomvang)
			}
		}
	}
	if objects != 2*mails {
		t.Errorf("%d informatieobjecten, want %d (mail + attachment each)", objects, 2*mails)
	}
	tasks := map[string]bool{}
	for _, m := range st.consume("internetaken", mails) {
		var e ingest.InternetaakEvent
		json.Unmarshal(m.Value, &e)
		if e.Klantcontact.Kanaal != "E-mail" {
			continue
		}
		if _, ok := byID[string(m.Key)]; !ok || e.Klantcontact.UUID != string(m.Key) {
			t.Errorf("internetaak keyed %s does not belong to a registered klantcontact", m.Key)
		}
		tasks[e.InterneTaak.UUID] = true
	}
	if len(tasks) != mails {
		t.Errorf("%d distinct internetaken, want %d", len(tasks), mails)
	}
}

func header(m kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func s3Sum(t testing.TB, s *blob.S3, key string) (string, int64) {
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Errorf("object %s: %v", key, err)
		return "", 0
	}
	defer rc.Close()
	h := sha256.New()
	n, _ := io.Copy(h, rc)
	return hex.EncodeToString(h.Sum(nil)), n
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	st := newStack(t, false)
	st.appendMails(0, 200)
	// Two bad items among them: not a mail at all, and a mail over the size limit.
	st.dovecot.Append(t, "info", "INBOX", []byte("%PDF-1.4\x00\x01\x02 geen e-mail\r\n"), synthMail(9999, 300<<10))
	cmd := st.start()
	st.waitFor("200 mails processed", 3*time.Minute, func() bool { return st.processedTotal() == 200 })
	st.waitFor("2 bad items failed", time.Minute, func() bool { return st.dovecot.Count(t, "info", "Mislukt") == 2 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("worker after SIGTERM = %v, want a clean exit\n%s", err, tail(st.logBuf.String(), 8000))
	}
	st.verify(200)
	reasons := map[string]bool{}
	for _, m := range st.consume("instroom.deadletter", 2) {
		var dl ingest.DeadLetterEvent
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			t.Fatal(err)
		}
		reasons[dl.Reason] = true
		if !strings.HasPrefix(dl.Ref, "imap:info/INBOX/") || dl.Source != "info.INBOX" {
			t.Errorf("dead letter %+v does not name its source item", dl)
		}
	}
	if !reasons[ingest.ReasonUnparseable] || !reasons[ingest.ReasonTooLarge] {
		t.Errorf("dead-letter reasons = %v, want unparseable and too_large", reasons)
	}
	// No citizen data in the worker's logs: not the sender, not the subject.
	if logs := st.logBuf.String(); strings.Contains(logs, "example.nl") || strings.Contains(logs, "Melding nummer") {
		t.Errorf("the worker logged message content:\n%s", tail(logs, 2000))
	}
}

func TestEndToEndCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	st := newStack(t, false)
	st.appendMails(0, 200)
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	interrupted := 0
	for kill := 0; kill < 60 && interrupted < 12; kill++ {
		before := st.inboxTotal()
		if before == 0 {
			break
		}
		cmd := st.start()
		// Kill it while it works: once mail leaves the inboxes, after a random delay.
		waitProgress(st.inboxTotal, before, time.Minute)
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// It counts when the worker was killed in the middle of its work.
		if after := st.inboxTotal(); after > 0 && after < before {
			interrupted++
			t.Logf("kill %d: %d mails waiting before, %d after", kill, before, after)
		}
	}
	if interrupted < 10 {
		t.Errorf("only %d kills interrupted the worker, want at least 10", interrupted)
	}
	cmd := st.start()
	st.waitFor("all mails processed after the kills", 3*time.Minute, func() bool { return st.processedTotal() == 200 })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	st.verify(200)
}

// TestOutages: S3 down, Kafka down, Dovecot restarted while the worker runs. Nothing moves
// out of the watched folders while a downstream is down; the worker recovers by itself.
func TestOutages(t *testing.T) {
	if testing.Short() {
		t.Skip("outage test")
	}
	st := newStack(t, true)
	cmd := st.start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	st.appendMails(0, 30)
	st.waitFor("first 30 mails", time.Minute, func() bool { return st.processedTotal() == 30 })

	for _, down := range []struct {
		name string
		p    interface {
			Stop()
			Start() error
		}
	}{{"s3", st.s3.Process}, {"kafka", st.kafka}} {
		processed := st.processedTotal()
		down.p.Stop()
		st.appendMails(processed, 30)
		time.Sleep(3 * time.Second) // the worker tries, fails and backs off
		if n := st.processedTotal(); n != processed {
			t.Errorf("%s down: %d mails moved to processed, want none", down.name, n-processed)
		}
		if n := st.inboxTotal(); n != 30 {
			t.Errorf("%s down: watched folders hold %d, want all 30", down.name, n)
		}
		if err := down.p.Start(); err != nil {
			t.Fatal(err)
		}
		st.waitFor("recovery after "+down.name+" came back", 2*time.Minute, func() bool { return st.processedTotal() == processed+30 })
	}

	// Dovecot restarts while mail is being processed.
	processed := st.processedTotal()
	st.appendMails(processed, 60)
	time.Sleep(200 * time.Millisecond)
	st.dovecot.Stop()
	time.Sleep(time.Second)
	if err := st.dovecot.Start(); err != nil {
		t.Fatal(err)
	}
	st.waitFor("recovery after the Dovecot restart", 2*time.Minute, func() bool { return st.processedTotal() == processed+60 })
	st.verify(processed + 60)
}
