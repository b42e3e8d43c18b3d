package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestDeployComposeDemo runs Instroom with the compose demo's configuration, environment
// and secrets against real servers started as processes in place of the compose services:
// Dovecot with the demo user, its password from the demo secret and the demo mails in
// INBOX; versitygw in place of MinIO, with the bucket; Kafka with the topics of the topic
// job. Only the addresses differ (INSTROOM_ overrides). The demo mails arrive as
// klantcontacten, and the letter pushed with deploy/README.md's curl command is
// registered too: what the newcomer should see.
func TestDeployComposeDemo(t *testing.T) {
	d := loadCompose(t, readImage(t))
	var p problems
	name, svc := d.instroom(&p)
	root := t.TempDir()
	rc := d.resolve(&p, root, name, svc)
	if len(p) > 0 {
		t.Fatal(p)
	}
	srv := startDemoServers(t, d, svc, rc, root)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var errb syncBuffer
	go func() {
		done <- run(ctx, []string{"run", "-config", root + d.img.configPath}, io.Discard, &errb, srv.environ)
	}()
	waitDemo(t, &errb, done, "the demo mails moved to "+srv.processed, func() bool { return srv.dovecot.Count(t, srv.user, srv.processed) == srv.mails })
	base := "http://" + srv.intake
	token, scanID := pushREADMELetter(t, base)
	waitDemo(t, &errb, done, "the letter verwerkt", func() bool { return letterStatus(base, token, scanID) == "verwerkt" })
	kcs := readTopic(t, srv.kafka.Addr, rc.Storage.Events.Topics["klantcontacten"], srv.mails+1)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("instroom exit %d:\n%s", code, tail(errb.String(), 3000))
	}
	kanalen, seen := map[string]int{}, map[string]bool{}
	for _, m := range kcs {
		var reg ingest.Registration
		if err := json.Unmarshal(m.Value, &reg); err != nil {
			t.Fatal(err)
		}
		if !seen[reg.Klantcontact.UUID] {
			seen[reg.Klantcontact.UUID] = true
			kanalen[reg.Klantcontact.Kanaal]++
		}
	}
	if kanalen["E-mail"] != srv.mails || kanalen["Brief"] != 1 || len(seen) != srv.mails+1 {
		t.Errorf("klantcontacten by kanaal %v, want %d E-mail and 1 Brief", kanalen, srv.mails)
	}
}

// demoServers are the servers started in place of the compose services.
type demoServers struct {
	dovecot   *ingesttest.Dovecot
	kafka     *ingesttest.Broker
	user      string
	processed string   // the folder handled mail is moved to
	mails     int      // demo mails in INBOX
	intake    string   // the intake API's address
	environ   []string // the service's environment, pointed at these servers
}

// startDemoServers starts Dovecot with the demo user, password and mails, versitygw with
// the bucket and Kafka with the topic job's topics, and writes versitygw's credentials
// into the S3 secret files below root (they stand in for MinIO's root user).
func startDemoServers(t *testing.T, d *composeDemo, svc *composeService, rc *resolvedConfig, root string) *demoServers {
	t.Helper()
	srv := &demoServers{intake: fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(t))}
	imapIndex := -1
	for i, s := range rc.Sources {
		if s.Type == "imap" && imapIndex < 0 {
			srv.user, srv.processed, imapIndex = s.IMAP.Username, s.IMAP.ProcessedFolder, i
		}
	}
	pw, err := os.ReadFile(filepath.Join(root, "run/secrets/imap-password"))
	if err != nil || imapIndex < 0 {
		t.Fatalf("the demo's IMAP source and password: %v", err)
	}
	mails, err := seedMails(d)
	if err != nil || len(mails) == 0 {
		t.Fatalf("demo mails: %d, %v", len(mails), err)
	}
	srv.mails = len(mails)
	srv.dovecot = ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: map[string]string{srv.user: strings.TrimRight(string(pw), "\r\n")}})
	srv.dovecot.Append(t, srv.user, "INBOX", mails...)
	s3 := ingesttest.StartS3(t, nil)
	s3.CreateBucket(t, rc.Storage.Blobs.S3.Bucket)
	srv.kafka = ingesttest.StartBroker(t, ingesttest.KafkaOptions{Topics: strings.Fields(svc0(d, "kafka-init").Environment["TOPICS"])})
	fs := &containerFS{root: root}
	fs.put("/run/secrets/s3-access-key", []byte(s3.AccessKey+"\n"))
	fs.put("/run/secrets/s3-secret-key", []byte(s3.SecretKey+"\n"))
	for k, v := range svc.Environment {
		srv.environ = append(srv.environ, k+"="+v)
	}
	srv.environ = append(srv.environ,
		"INSTROOM_DATA_DIR="+root+d.dataDir(svc),
		fmt.Sprintf("INSTROOM_SOURCES_%d_IMAP_ADDRESS=%s", imapIndex, srv.dovecot.Addr),
		"INSTROOM_STORAGE_BLOBS_S3_ENDPOINT="+s3.Endpoint,
		"INSTROOM_STORAGE_EVENTS_KAFKA_BROKERS="+srv.kafka.Addr,
		"INSTROOM_INTAKE_LISTEN="+srv.intake,
		fmt.Sprintf("INSTROOM_OPS_LISTEN=127.0.0.1:%d", ingesttest.FreePort(t)),
	)
	return srv
}

func svc0(d *composeDemo, name string) *composeService {
	if s := d.file.Services[name]; s != nil {
		return s
	}
	return &composeService{}
}

// waitDemo waits until cond holds while the worker runs.
func waitDemo(t *testing.T, log *syncBuffer, done chan int, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case code := <-done:
			t.Fatalf("instroom exit %d before %s:\n%s", code, what, tail(log.String(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 60 s:\n%s", what, tail(log.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	readmeToken = regexp.MustCompile(`Authorization: Bearer ([A-Za-z0-9._-]+)`)
	readmeForm  = regexp.MustCompile(`-F "(metadata|scan)=@([^";]+)`)
)

// pushREADMELetter pushes the letter of deploy/README.md's curl command, with its token,
// and returns the token and the letter's scanId.
func pushREADMELetter(t *testing.T, base string) (token, scanID string) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/README.md")
	if err != nil {
		t.Fatal(err)
	}
	tok := readmeToken.FindSubmatch(b)
	files := map[string]string{}
	for _, m := range readmeForm.FindAllSubmatch(b, -1) {
		files[string(m[1])] = filepath.Join("../..", string(m[2]))
	}
	if tok == nil || len(files) != 2 {
		t.Fatalf("deploy/README.md: no curl command with a token, metadata and scan (token %q, files %v)", tok, files)
	}
	side, err1 := os.ReadFile(files["metadata"])
	scan, err2 := os.ReadFile(files["scan"])
	if err1 != nil || err2 != nil {
		t.Fatalf("deploy/README.md's letter: %v %v", err1, err2)
	}
	var meta struct {
		ScanID  string `json:"scanId"`
		Bestand string `json:"bestand"`
	}
	json.Unmarshal(side, &meta)
	var resp *http.Response
	for i := 0; i < 50 && resp == nil; i++ { // the API may not listen yet
		resp, err = tryPushLetter(base, string(tok[1]), side, scan, meta.Bestand)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if resp == nil {
		t.Fatalf("push: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deploy/README.md's letter push = %d %s, want 202", resp.StatusCode, bytes.TrimSpace(body))
	}
	return string(tok[1]), meta.ScanID
}

// letterStatus asks the intake API how far a pushed letter is.
func letterStatus(base, token, scanID string) string {
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/brieven/"+scanID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Status string `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	return st.Status
}

// tryPushLetter posts one letter to the intake API as curl -F does.
func tryPushLetter(base, token string, sidecar, scan []byte, bestand string) (*http.Response, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"; filename="brief.json"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write(sidecar)
	fw, _ := mw.CreateFormFile("scan", bestand)
	fw.Write(scan)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/brieven", &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return http.DefaultClient.Do(req)
}
