package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
)

// letterFiles returns a contract example sidecar with its scanId and bestand set, and a
// small PDF to go with it.
func letterFiles(t *testing.T, example, scanID string) (sidecar, scan []byte, bestand string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../channels/brief/testdata", example))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	bestand = scanID + ".pdf"
	doc["scanId"], doc["bestand"] = scanID, bestand
	sidecar, _ = json.Marshal(doc)
	scan, err = os.ReadFile("../../channels/brief/testdata/SCAN-20240312-000123.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return sidecar, scan, bestand
}

// pushLetter posts one letter to the intake API.
func pushLetter(t *testing.T, base, token string, sidecar, scan []byte, bestand string) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(letterRequest(context.Background(), base, token, sidecar, scan, bestand))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// letterRequest is the POST of one letter (metadata and scan) to the intake API.
func letterRequest(ctx context.Context, base, token string, sidecar, scan []byte, bestand string) *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write(sidecar)
	fw, _ := mw.CreateFormFile("scan", bestand)
	fw.Write(scan)
	mw.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/brieven", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// runUntil runs the worker in-process until cond holds (checked every 100 ms), then stops
// it as SIGTERM would.
func runUntil(t *testing.T, cfg string, timeout time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() { done <- run(ctx, []string{"run", "-config", cfg}, io.Discard, &errb, nil) }()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("condition not reached in %s; worker log:\n%s", timeout, tail(errb.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("worker exit %d:\n%s", code, tail(errb.String(), 3000))
	}
}

// TestLettersEndToEnd: a letter dropped in a directory, one pushed over HTTP into the same
// drop zone, and one dropped on an S3 prefix (versitygw) each end as a valid klantcontact
// event with its interne taak on Kafka (a kfake broker), with the scan, the sidecar and the
// text stored in S3.
func TestLettersEndToEnd(t *testing.T) {
	s3 := ingesttest.StartS3(t, nil)
	s3.CreateBucket(t, "instroom")
	s3.CreateBucket(t, "aanlevering")
	k := ingesttest.StartKafka(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten", "internetaken", "instroom.deadletter"}})
	dir := t.TempDir()
	token := "e2e-token-scanstraat-0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	common := fmt.Sprintf(`data_dir: data
log: {level: info}
intake:
  vendors:
    scanstraat: {channels: [brief], token_sha256: [%s]}
storage:
  blobs:
    type: s3
    s3: {endpoint: %s, bucket: instroom, path_style: true, insecure: true, access_key: %s, secret_key: %s}
  events:
    type: kafka
    kafka: {brokers: [%s]}
`, hex.EncodeToString(sum[:]), s3.Endpoint, s3.AccessKey, s3.SecretKey, k.Addr)
	dirCfg := filepath.Join(dir, "dir.yaml")
	os.WriteFile(dirCfg, []byte(strings.Replace(common, "intake:\n", fmt.Sprintf("intake:\n  listen: %s\n", addr), 1)+"sources:\n  - {name: brieven, type: dir, channel: brief, path: brieven, min_age: -1s, poll_interval: 100ms}\n"), 0o644)
	s3Cfg := filepath.Join(dir, "s3.yaml")
	os.WriteFile(s3Cfg, []byte(common+fmt.Sprintf("sources:\n  - {name: brieven-s3, type: s3, channel: brief, prefix: brieven, min_age: -1s, poll_interval: 100ms, s3: {endpoint: %s, bucket: aanlevering, path_style: true, insecure: true, access_key: %s, secret_key: %s}}\n", s3.Endpoint, s3.AccessKey, s3.SecretKey)), 0o644)

	// 1. A letter dropped as files, and one pushed over HTTP, into the directory zone.
	vendorDir := filepath.Join(dir, "brieven", "scanstraat")
	os.MkdirAll(vendorDir, 0o755)
	side, scan, bestand := letterFiles(t, "brief-c2138.json", "E2E-DIR-1")
	os.WriteFile(filepath.Join(vendorDir, bestand), scan, 0o644)
	os.WriteFile(filepath.Join(vendorDir, "E2E-DIR-1.json"), side, 0o644)
	pushed := false
	runUntil(t, dirCfg, 60*time.Second, func() bool {
		if !pushed {
			if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
				c.Close()
				side, scan, bestand := letterFiles(t, "brief-bezwaar-zaak.json", "E2E-HTTP-1")
				resp := pushLetter(t, "http://"+addr, token, side, scan, bestand)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("push = %d %s, want 202", resp.StatusCode, b)
				}
				pushed = true
			}
		}
		done, _ := filepath.Glob(filepath.Join(vendorDir, "processed", "*.json"))
		return len(done) == 2
	})

	// 2. A letter dropped on the S3 prefix.
	store, err := blob.NewS3(blob.S3Options{Endpoint: s3.Endpoint, Bucket: "aanlevering", PathStyle: true, Insecure: true, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	side, scan, bestand = letterFiles(t, "brief-c2138.json", "E2E-S3-1")
	store.Put(ctx, "brieven/scanstraat/"+bestand, bytes.NewReader(scan), int64(len(scan)), "application/pdf")
	store.Put(ctx, "brieven/scanstraat/E2E-S3-1.json", bytes.NewReader(side), int64(len(side)), "application/json")
	runUntil(t, s3Cfg, 60*time.Second, func() bool {
		rc, err := store.Get(ctx, "brieven/scanstraat/processed/E2E-S3-1.json")
		if err != nil {
			return false
		}
		rc.Close()
		return true
	})

	// Every letter is one klantcontact with its interne taak, valid, its objects in S3.
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	objects, _ := blob.NewS3(blob.S3Options{Endpoint: s3.Endpoint, Bucket: "instroom", PathStyle: true, Insecure: true, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	want := map[string]bool{}
	for _, id := range []string{"E2E-DIR-1", "E2E-HTTP-1", "E2E-S3-1"} {
		want[ingest.KlantcontactID("brief", "scanstraat\x1f"+id)] = true
	}
	kcs := readTopic(t, k.Addr, "klantcontacten", 3)
	for _, m := range kcs {
		var reg ingest.Registration
		if err := json.Unmarshal(m.Value, &reg); err != nil {
			t.Fatal(err)
		}
		if !want[reg.Klantcontact.UUID] {
			t.Errorf("unexpected klantcontact %s", reg.Klantcontact.UUID)
		}
		delete(want, reg.Klantcontact.UUID)
		if err := ingesttest.ValidateRegistration(&reg); err != nil {
			t.Errorf("klantcontact %s: %v", reg.Klantcontact.UUID, err)
		}
		msg := ingest.Message{Topic: m.Topic, Key: string(m.Key), Value: m.Value}
		for _, h := range m.Headers {
			msg.Headers = append(msg.Headers, ingest.Header{Key: h.Key, Value: string(h.Value)})
		}
		if err := ev.Validate(msg); err != nil {
			t.Errorf("event: %v", err)
		}
		if reg.Klantcontact.Kanaal != "Brief" || len(reg.InterneTaken) != 1 {
			t.Errorf("klantcontact %s: kanaal %q, %d interne taken; want Brief and 1", reg.Klantcontact.UUID, reg.Klantcontact.Kanaal, len(reg.InterneTaken))
		}
		soorten := map[string]bool{}
		for _, io := range reg.Informatieobjecten {
			soorten[io.Soort] = true
			if sum, size := s3Sum(t, objects, io.ObjectKey); sum != io.Integriteit.Waarde || size != io.Bestandsomvang {
				t.Errorf("object %s in S3: sha %s size %d, want %s %d", io.ObjectKey, sum, size, io.Integriteit.Waarde, io.Bestandsomvang)
			}
		}
		if !soorten["origineel"] || !soorten["aanlevering"] || !soorten["volledige_tekst"] {
			t.Errorf("klantcontact %s: informatieobjecten %v, want the scan, the sidecar and the text", reg.Klantcontact.UUID, soorten)
		}
	}
	if len(want) != 0 {
		t.Errorf("no klantcontact for %v", want)
	}
	if n := len(readTopic(t, k.Addr, "internetaken", 3)); n < 3 {
		t.Errorf("%d internetaken, want 3", n)
	}
}

// readTopic reads a topic from the start until it is quiet, expecting at least atLeast.
func readTopic(t *testing.T, broker, topic string, atLeast int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, GroupID: fmt.Sprintf("check-%s-%d", topic, time.Now().UnixNano()),
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
			t.Fatalf("reading %s: %v after %d messages (want at least %d)", topic, err, len(out), atLeast)
		}
		out = append(out, m)
	}
}
