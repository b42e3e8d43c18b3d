package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/ingest/intakeapi"
	"github.com/instroom/instroom/storage/blob"
)

// chatE2ESecret is the chat vendor's webhook secret in the end-to-end test (§3's test
// vector secret).
const chatE2ESecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func chatExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../channels/chat/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushGesprek posts one transcript to the intake API, signed with secret when it is set.
func pushGesprek(client *http.Client, base, token, secret, webhookID string, body []byte) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/gesprekken", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if secret != "" {
		ts := time.Now().Unix()
		sig, err := intakeapi.Sign(secret, webhookID, ts, body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("webhook-id", webhookID)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", sig)
	}
	return client.Do(req)
}

// TestChatEndToEnd: a transcript pushed over HTTP (signed, by a vendor with webhook
// secrets) and one dropped on the S3 prefix (versitygw) each end as a valid klantcontact
// event on Kafka (a kfake broker) with the §10 uuid, the call-back request with its
// interne taak Terugbellen; the transcript JSON and the rendered text are stored in S3.
func TestChatEndToEnd(t *testing.T) {
	s3 := ingesttest.StartS3(t, nil)
	s3.CreateBucket(t, "instroom")
	s3.CreateBucket(t, "aanlevering")
	k := ingesttest.StartKafka(t, ingesttest.KafkaOptions{Topics: []string{"klantcontacten", "internetaken", "instroom.deadletter"}})
	dir := t.TempDir()
	token := "e2e-token-chatleverancier-0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "chatleverancier-whsec"), []byte(chatE2ESecret+"\n"), 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s3Conn := fmt.Sprintf("{endpoint: %s, bucket: %%s, path_style: true, insecure: true, access_key: %s, secret_key: %s}", s3.Endpoint, s3.AccessKey, s3.SecretKey)
	cfg := filepath.Join(dir, "chat.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: data
log: {level: info}
intake:
  listen: %s
  vendors:
    chatleverancier: {channels: [chat], token_sha256: [%s], webhook_secrets_file: secrets/chatleverancier-whsec}
storage:
  blobs:
    type: s3
    s3: %s
  events:
    type: kafka
    kafka: {brokers: [%s]}
sources:
  - {name: gesprekken, type: s3, channel: chat, prefix: gesprekken, min_age: -1s, poll_interval: 100ms, s3: %s}
`, addr, hex.EncodeToString(sum[:]), fmt.Sprintf(s3Conn, "instroom"), k.Addr, fmt.Sprintf(s3Conn, "aanlevering"))), 0o644)

	zone, err := blob.NewS3(blob.S3Options{Endpoint: s3.Endpoint, Bucket: "aanlevering", PathStyle: true, Insecure: true, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dropped := chatExample(t, "gesprek-c1242-beantwoord.json")
	if err := zone.Put(ctx, "gesprekken/chatleverancier/gsp-2024-03-12-8f3a1c.json", bytes.NewReader(dropped), int64(len(dropped)), "application/json"); err != nil {
		t.Fatal(err)
	}
	pushed := chatExample(t, "gesprek-c9476-terugbellen.json")
	var pushedDoc struct {
		GesprekID string `json:"gesprekId"`
	}
	json.Unmarshal(pushed, &pushedDoc)
	done := false
	runUntil(t, cfg, 90*time.Second, func() bool {
		if !done {
			if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
				c.Close()
				// Unsigned first: this vendor must sign.
				if resp, err := pushGesprek(http.DefaultClient, "http://"+addr, token, "", "", pushed); err != nil || resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("unsigned push = %v %v, want 401", resp, err)
				}
				for range 2 { // the second is a repeat: the same answer
					resp, err := pushGesprek(http.DefaultClient, "http://"+addr, token, chatE2ESecret, "msg_e2e_1", pushed)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(b), "6d42354d-1dc4-5c82-b4c8-193d875d5c9e") {
						t.Fatalf("signed push = %d %s, want 202 with the §10 klantcontact", resp.StatusCode, b)
					}
				}
				done = true
			}
		}
		for _, id := range []string{"gsp-2024-03-12-8f3a1c", pushedDoc.GesprekID} {
			rc, err := zone.Get(ctx, "gesprekken/chatleverancier/processed/"+id+".json")
			if err != nil {
				return false
			}
			rc.Close()
		}
		return true
	})

	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	objects, _ := blob.NewS3(blob.S3Options{Endpoint: s3.Endpoint, Bucket: "instroom", PathStyle: true, Insecure: true, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	want := map[string]string{ // klantcontact → the interne taak it must have ("" none)
		ingest.KlantcontactID("chat", "chatleverancier\x1fgsp-2024-03-12-8f3a1c"): "",
		ingest.KlantcontactID("chat", "chatleverancier\x1f"+pushedDoc.GesprekID):  "Terugbellen",
	}
	if _, ok := want["6d42354d-1dc4-5c82-b4c8-193d875d5c9e"]; !ok {
		t.Errorf("the pushed example's klantcontact is not §10's 6d42354d-…")
	}
	for _, m := range readTopic(t, k.Addr, "klantcontacten", 2) {
		var reg ingest.Registration
		if err := json.Unmarshal(m.Value, &reg); err != nil {
			t.Fatal(err)
		}
		task, ok := want[reg.Klantcontact.UUID]
		if !ok {
			t.Errorf("unexpected klantcontact %s", reg.Klantcontact.UUID)
			continue
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
		var tasks []string
		for _, it := range reg.InterneTaken {
			tasks = append(tasks, it.GevraagdeHandeling)
		}
		if strings.Join(tasks, ",") != task {
			t.Errorf("klantcontact %s: interne taken %v, want %q", reg.Klantcontact.UUID, tasks, task)
		}
		if reg.Klantcontact.Kanaal != "Live chat" || reg.Klantcontact.Inhoud == "" {
			t.Errorf("klantcontact %s: kanaal %q, inhoud %d bytes; want Live chat and the rendered transcript", reg.Klantcontact.UUID, reg.Klantcontact.Kanaal, len(reg.Klantcontact.Inhoud))
		}
		if task == "" && !strings.HasPrefix(reg.Klantcontact.Inhoud, "14:02 Klant: Mijn paspoort verloopt volgende maand.") {
			t.Errorf("klantcontact %s: inhoud does not start with §9's rendered first line", reg.Klantcontact.UUID)
		}
		soorten := map[string]bool{}
		for _, io := range reg.Informatieobjecten {
			soorten[io.Soort] = true
			if sum, size := s3Sum(t, objects, io.ObjectKey); sum != io.Integriteit.Waarde || size != io.Bestandsomvang {
				t.Errorf("object %s in S3: sha %s size %d, want %s %d", io.ObjectKey, sum, size, io.Integriteit.Waarde, io.Bestandsomvang)
			}
		}
		if !soorten["origineel"] || !soorten["volledige_tekst"] {
			t.Errorf("klantcontact %s: informatieobjecten %v, want the transcript JSON and the text", reg.Klantcontact.UUID, soorten)
		}
	}
	if len(want) != 0 {
		t.Errorf("no klantcontact for %v", want)
	}
	if n := len(readTopic(t, k.Addr, "internetaken", 1)); n != 1 {
		t.Errorf("%d internetaken, want 1 (Terugbellen)", n)
	}
}
