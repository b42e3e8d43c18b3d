package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
)

// replayStack is a worker over an IMAP account with two watched folders (Dovecot), a
// mail drop folder and a letter drop zone on S3 (versitygw), publishing to Kafka.
type replayStack struct {
	t       *testing.T
	dir     string
	dovecot *ingesttest.Dovecot
	s3      *ingesttest.S3Server
	kafka   *ingesttest.Broker
	drop    *blob.S3 // the bucket of the letter drop zone
	cfg     string
	log     *syncBuffer
}

func newReplayStack(t *testing.T) *replayStack {
	st := &replayStack{t: t, dir: t.TempDir(), log: &syncBuffer{}}
	st.dovecot = ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: map[string]string{"info": "geheim1"}})
	st.s3 = ingesttest.StartS3(t, nil)
	st.s3.CreateBucket(t, "instroom")
	st.s3.CreateBucket(t, "aanlevering")
	st.kafka = ingesttest.StartBroker(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten", "internetaken", "instroom.deadletter"}})
	var err error
	st.drop, err = blob.NewS3(blob.S3Options{Endpoint: st.s3.Endpoint, Bucket: "aanlevering", PathStyle: true, Insecure: true, AccessKey: st.s3.AccessKey, SecretKey: st.s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(st.dir, "drop"), 0o755)
	st.cfg = filepath.Join(st.dir, "instroom.yaml")
	return st
}

// configure writes the configuration with the given size limit.
func (st *replayStack) configure(maxBytes int) {
	s3 := fmt.Sprintf("{endpoint: %s, path_style: true, insecure: true, access_key: %s, secret_key: %s", st.s3.Endpoint, st.s3.AccessKey, st.s3.SecretKey)
	cfg := fmt.Sprintf(`instance: replay
data_dir: data
log: {level: info}
intake:
  vendors:
    scanstraat: {channels: [brief]}
sources:
  - name: info
    type: imap
    imap: {address: %s, security: plain, username: info, password: geheim1, folders: [INBOX, Doorgestuurd], idle_timeout: 10s, check_interval: 200ms}
  - {name: drop, type: dir, path: drop, min_age: -1s, poll_interval: 100ms}
  - {name: brieven, type: s3, channel: brief, prefix: brieven, min_age: -1s, poll_interval: 100ms, s3: %s, bucket: aanlevering}}
storage:
  blobs: {type: s3, s3: %s, bucket: instroom}}
  events: {type: kafka, kafka: {brokers: [%s]}}
limits: {max_message_bytes: %d}
shutdown: {drain_timeout: 5s}
`, st.dovecot.Addr, s3, s3, st.kafka.Addr, maxBytes)
	if err := os.WriteFile(st.cfg, []byte(cfg), 0o644); err != nil {
		st.t.Fatal(err)
	}
}

// start runs the worker as its own process until stop.
func (st *replayStack) start() (stop func()) {
	cmd := exec.Command(os.Args[0], "run", "-config", st.cfg)
	cmd.Env = append(os.Environ(), "INSTROOM_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = st.log, st.log
	if err := cmd.Start(); err != nil {
		st.t.Fatal(err)
	}
	st.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			st.t.Errorf("worker after SIGTERM = %v\n%s", err, tail(st.log.String(), 4000))
		}
	}
}

func (st *replayStack) waitFor(what string, cond func() bool) {
	st.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			st.t.Fatalf("timed out waiting for %s\nworker log:\n%s", what, tail(st.log.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// files counts the items (not reason files) in a folder of the mail drop folder.
func (st *replayStack) files(sub string) int {
	ents, _ := os.ReadDir(filepath.Join(st.dir, "drop", sub))
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), ".reason.json") {
			n++
		}
	}
	return n
}

func (st *replayStack) letterIn(place string) bool {
	rc, err := st.drop.Get(context.Background(), "brieven/scanstraat/"+place+"R-1.json")
	if err != nil {
		return false
	}
	rc.Close()
	return true
}

func (st *replayStack) replay(args ...string) (int, string, string) {
	st.t.Helper()
	return runCLI(st.t, append([]string{"replay", "-config", st.cfg}, args...)...)
}

// TestReplayEndToEnd: mails too large for the limit fail into the IMAP failed folder (from
// two watched folders) and the drop folder's failed/, and a letter with an invalid
// sidecar into the S3 zone's failed/, each with a dead letter. The limit is raised and the
// sidecar corrected; with a worker running, instroom replay lists them (-dry-run),
// re-drives three by their dead letters (as published, and one as a CloudEvents
// envelope) and the rest by source and by listing; a dead letter whose item is gone is
// not found (exit 1). The worker registers every item once, nothing with two payloads.
func TestReplayEndToEnd(t *testing.T) {
	st := newReplayStack(t)
	ctx := context.Background()
	st.configure(64 << 10)
	st.dovecot.Append(t, "info", "INBOX", synthMail(1, 2<<10), synthMail(2, 100<<10))
	st.dovecot.Append(t, "info", "Doorgestuurd", synthMail(3, 100<<10))
	for i, size := range map[int]int{4: 2 << 10, 5: 100 << 10, 6: 100 << 10} {
		os.WriteFile(filepath.Join(st.dir, "drop", fmt.Sprintf("m%d.eml", i)), synthMail(i, size), 0o644)
	}
	side, scan, bestand := letterFiles(t, "brief-c2138.json", "R-1")
	var doc map[string]any
	json.Unmarshal(side, &doc)
	doc["gescandOp"] = "gisteren" // not a date-time: the letter is invalid
	bad, _ := json.Marshal(doc)
	st.drop.Put(ctx, "brieven/scanstraat/"+bestand, bytes.NewReader(scan), int64(len(scan)), "application/pdf")
	st.drop.Put(ctx, "brieven/scanstraat/R-1.json", bytes.NewReader(bad), int64(len(bad)), "application/json")

	// 1. Everything too large, and the letter, fails.
	stop := st.start()
	st.waitFor("the failures", func() bool {
		return st.dovecot.Count(t, "info", "Mislukt") == 2 && st.dovecot.Count(t, "info", "Verwerkt") == 1 &&
			st.files("failed") == 2 && st.files("processed") == 1 && st.letterIn("failed/")
	})
	stop()
	dls := readTopic(t, st.kafka.Addr, "instroom.deadletter", 5)
	if len(dls) != 5 {
		t.Fatalf("%d dead letters, want 5", len(dls))
	}
	byRef := map[string]kafka.Message{}
	for _, m := range dls {
		var ev ingest.DeadLetterEvent
		json.Unmarshal(m.Value, &ev)
		byRef[ev.Source+" "+ev.Ref] = m
	}

	// 2. The cause is fixed: the limit raised, the sidecar corrected in failed/.
	st.configure(1 << 20)
	st.drop.Put(ctx, "brieven/scanstraat/failed/R-1.json", bytes.NewReader(side), int64(len(side)), "application/json")
	stop = st.start()
	defer func() {
		if stop != nil {
			stop()
		}
	}()

	// 3. A dry run lists the five and moves nothing.
	code, out, errOut := st.replay("-dry-run")
	if code != 0 {
		t.Fatalf("replay -dry-run = exit %d: %s", code, errOut)
	}
	t.Logf("instroom replay -dry-run:\n%s", out)
	for _, want := range []string{"info.INBOX", "info.Doorgestuurd", "drop", "m5.eml", "m6.eml", "brieven", "scanstraat/R-1.json", "too_large", "invalid", "5 failed item(s) would be re-driven"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay -dry-run shows no %q:\n%s", want, out)
		}
	}
	if st.dovecot.Count(t, "info", "Mislukt") != 2 || st.files("failed") != 2 || !st.letterIn("failed/") {
		t.Errorf("replay -dry-run moved something")
	}

	// 4. Three by their dead letters: the INBOX mail, m5.eml (as a CloudEvents envelope)
	// and the letter.
	var file bytes.Buffer
	var picked int
	for key, m := range byRef {
		switch {
		case strings.HasPrefix(key, "info.INBOX "), key == "brieven scanstraat/R-1.json":
			file.Write(m.Value)
		case key == "drop m5.eml":
			file.Write(cloudEvent(t, m))
		default:
			continue
		}
		file.WriteString("\n")
		picked++
	}
	if picked != 3 {
		t.Fatalf("dead letters by source and ref: %v", keys(byRef))
	}
	deadLetters := filepath.Join(st.dir, "deadletters.jsonl")
	os.WriteFile(deadLetters, file.Bytes(), 0o644)
	if code, out, errOut := st.replay("-dead-letters", deadLetters); code != 0 || !strings.Contains(out, "re-driven 3 of 3") {
		t.Fatalf("replay -dead-letters = exit %d:\n%s%s", code, out, errOut)
	}
	st.waitFor("the three registered", func() bool {
		return st.dovecot.Count(t, "info", "Verwerkt") == 2 && st.files("processed") == 2 && st.letterIn("processed/")
	})
	code, out, _ = st.replay("-dry-run")
	if code != 0 || !strings.Contains(out, "info.Doorgestuurd") || !strings.Contains(out, "m6.eml") || !strings.Contains(out, "2 failed item(s)") {
		t.Errorf("replay -dry-run after the dead letters = exit %d:\n%s", code, out)
	}

	// 5. The drop folder by source, then the rest; the dead letters again find nothing.
	if code, out, errOut := st.replay("-source", "drop"); code != 0 || !strings.Contains(out, "m6.eml") || !strings.Contains(out, "re-driven 1 of 1") {
		t.Errorf("replay -source drop = exit %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := st.replay(); code != 0 || !strings.Contains(out, "info.Doorgestuurd") || !strings.Contains(out, "re-driven 1 of 1") {
		t.Errorf("replay = exit %d:\n%s%s", code, out, errOut)
	}
	if code, _, errOut := st.replay("-dead-letters", deadLetters); code != 1 || strings.Count(errOut, "not found:") != 3 {
		t.Errorf("replay -dead-letters again = exit %d, want 1 with three not found:\n%s", code, errOut)
	}
	st.waitFor("every item registered", func() bool {
		return st.dovecot.Count(t, "info", "Verwerkt") == 3 && st.dovecot.Count(t, "info", "Mislukt") == 0 &&
			st.files("processed") == 3 && st.files("failed") == 0
	})
	stop()
	stop = nil
	checkRegisteredOnce(t, st.kafka.Addr, 7)
	if n := len(readTopic(t, st.kafka.Addr, "instroom.deadletter", 5)); n != 5 {
		t.Errorf("%d dead letters in the end, want the first 5 only", n)
	}
}

// cloudEvent is a Kafka message in the CloudEvents JSON format (structured mode).
func cloudEvent(t *testing.T, m kafka.Message) []byte {
	ce := map[string]any{"data": json.RawMessage(m.Value), "datacontenttype": "application/json"}
	for _, h := range m.Headers {
		if k, ok := strings.CutPrefix(h.Key, "ce_"); ok {
			ce[k] = string(h.Value)
		}
	}
	b, err := json.Marshal(ce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys(m map[string]kafka.Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkRegisteredOnce reads the klantcontacten topic: want distinct klantcontacten, each
// repeat byte-identical.
func checkRegisteredOnce(t *testing.T, broker string, want int) {
	t.Helper()
	payload := map[string][]byte{}
	for _, m := range readTopic(t, broker, "klantcontacten", want) {
		if p, ok := payload[string(m.Key)]; ok && !bytes.Equal(p, m.Value) {
			t.Errorf("klantcontact %s registered twice with different payloads", m.Key)
		}
		payload[string(m.Key)] = m.Value
	}
	if len(payload) != want {
		t.Errorf("%d klantcontacten, want %d", len(payload), want)
	}
}
