package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/instroom/instroom/ingest/ingesttest"
)

// reloadConfig is the worker's configuration for TestReload: one IMAP folder, a letter
// drop zone with the intake API, and one routing rule whose subject and team vary.
func reloadConfig(st *stack, intake, ops, token, subject, team string) string {
	sum := sha256.Sum256([]byte(token))
	return fmt.Sprintf(`instance: reload
log: {level: info}
data_dir: data
ops: {listen: %[7]s}
intake:
  listen: %[6]s
  vendors:
    scanstraat: {channels: [brief], token_sha256: [%[8]s]}
mapping:
  eenheden:
    kcc: {naam: KCC}
    team: {naam: %[10]s}
routing:
  rules:
    - name: onderwerp
      when: {channels: [email], subject: "%[9]s"}
      tasks: [{gevraagde_handeling: Behandelen, eenheden: [team]}]
    - name: rest
      when: {channels: [email]}
      tasks: [{gevraagde_handeling: Lezen, eenheden: [kcc]}]
sources:
  - name: info
    type: imap
    imap: {address: %[1]s, security: plain, username: info, password: geheim1, folders: [INBOX], idle_timeout: 10s}
  - {name: brieven, type: dir, channel: brief, path: brieven, min_age: -1s, poll_interval: 100ms}
storage:
  blobs:
    type: s3
    s3: {endpoint: %[2]s, bucket: instroom, path_style: true, insecure: true, access_key: %[3]s, secret_key: %[4]s}
  events:
    type: kafka
    kafka: {brokers: [%[5]s]}
shutdown: {drain_timeout: 5s}
`, st.dovecot.Addr, st.s3.Endpoint, st.s3.AccessKey, st.s3.SecretKey, st.kafka.Addr, intake, ops, hex.EncodeToString(sum[:]), subject, team)
}

// keepAliveClient is an HTTP client that counts the connections it opens.
type keepAliveClient struct {
	c      *http.Client
	opened atomic.Int32
}

func (k *keepAliveClient) pushLetter(t *testing.T, base, token string, sidecar, scan []byte, bestand string) int {
	t.Helper()
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			k.opened.Add(1)
		}
	}}
	req := letterRequest(httptrace.WithClientTrace(context.Background(), trace), base, token, sidecar, scan, bestand)
	resp, err := k.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestReload changes routing and a vendor's token under a running worker (real Dovecot,
// versitygw and Kafka) with SIGHUP: the new token works and the old one no longer does,
// over the same kept-alive connection; mail after the reload is routed by the new rule;
// a broken configuration is refused with a reason and the running one stays in force.
func TestReload(t *testing.T) {
	st := newStack(t, false)
	intake := fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(t))
	ops := fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(t))
	os.MkdirAll(filepath.Join(st.dir, "brieven", "scanstraat"), 0o755)
	oldToken, newToken := "reload-token-old-0123456789abcdef0123456789", "reload-token-new-0123456789abcdef0123456789"
	write := func(yml string) {
		if err := os.WriteFile(st.cfg, []byte(yml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(st, intake, ops, oldToken, "(?i)belasting", "Team Belastingen"))
	cmd := st.start()
	if err := ingesttest.WaitPort(intake, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, st.logBuf.String())
	}
	base := "http://" + intake
	client := &keepAliveClient{c: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}}
	side, scan, bestand := letterFiles(t, "brief-c2138.json", "RELOAD-1")
	if code := client.pushLetter(t, base, oldToken, side, scan, bestand); code != http.StatusAccepted {
		t.Fatalf("push with the configured token = %d, want 202", code)
	}
	st.dovecot.Append(t, "info", "INBOX", reloadMail(1, "Vraag over parkeren"))
	tasks := st.consume("internetaken", 2)
	if !taskFor(tasks, "KCC") {
		t.Fatalf("before the reload the parking mail should go to KCC")
	}

	// The new configuration: another token, and parking questions to a new team.
	write(reloadConfig(st, intake, ops, newToken, "(?i)parkeren", "Team Parkeren"))
	hup(t, st, cmd, "configuration reloaded", 1)
	side, scan, bestand = letterFiles(t, "brief-c2138.json", "RELOAD-2")
	if code := client.pushLetter(t, base, oldToken, side, scan, bestand); code != http.StatusUnauthorized {
		t.Errorf("push with the old token after the reload = %d, want 401", code)
	}
	if code := client.pushLetter(t, base, newToken, side, scan, bestand); code != http.StatusAccepted {
		t.Errorf("push with the new token after the reload = %d, want 202", code)
	}
	if n := client.opened.Load(); n != 1 {
		t.Errorf("the client opened %d connections, want 1: the reload must keep connections", n)
	}
	st.dovecot.Append(t, "info", "INBOX", reloadMail(2, "Nog een vraag over parkeren"))
	st.waitFor("the mail after the reload routed to the new team", 60*time.Second, func() bool {
		return taskFor(st.consume("internetaken", 1), "Team Parkeren")
	})
	if strings.Contains(st.logBuf.String(), "need a restart") {
		t.Errorf("a routing and token change was reported as needing a restart:\n%s", st.logBuf.String())
	}

	// A broken configuration is refused, with the reason; the running one stays.
	write(strings.Replace(reloadConfig(st, intake, ops, newToken, "(?i)parkeren", "Team Parkeren"), "eenheden: [team]", "eenheden: [onbekend]", 1))
	hup(t, st, cmd, "configuration reload refused", 1)
	if !strings.Contains(st.logBuf.String(), "onbekend") {
		t.Errorf("the refusal does not say why:\n%s", tail(st.logBuf.String(), 2000))
	}
	side, scan, bestand = letterFiles(t, "brief-c2138.json", "RELOAD-3")
	if code := client.pushLetter(t, base, newToken, side, scan, bestand); code != http.StatusAccepted {
		t.Errorf("push after a refused reload = %d, want 202 (the running configuration stays)", code)
	}
	metrics := scrape(t, "http://"+ops+"/metrics")
	for _, want := range []string{`instroom_config_reloads_total{result="ok"} 1`, `instroom_config_reloads_total{result="refused"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A change that needs a restart is applied in part and named.
	write(strings.Replace(reloadConfig(st, intake, ops, newToken, "(?i)parkeren", "Team Parkeren"), "drain_timeout: 5s", "drain_timeout: 6s", 1))
	hup(t, st, cmd, "need a restart", 1)
	if cmd.ProcessState != nil {
		t.Fatalf("the worker exited")
	}
}

// hup sends SIGHUP and waits until the log has one more line containing want.
func hup(t *testing.T, st *stack, cmd *exec.Cmd, want string, more int) {
	t.Helper()
	before := strings.Count(st.logBuf.String(), want)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	st.waitFor(want, 30*time.Second, func() bool { return strings.Count(st.logBuf.String(), want) >= before+more })
}

func reloadMail(i int, subject string) []byte {
	return fmt.Appendf(nil, "From: Burger <burger%d@example.nl>\r\nTo: info@gemeente.example\r\nSubject: %s\r\nDate: Fri, 20 Nov 2026 10:00:%02d +0100\r\nMessage-ID: <reload-%d@example.nl>\r\n\r\nGraag antwoord.\r\n", i, subject, i, i)
}

// taskFor reports whether an internetaken event names the team.
func taskFor(msgs []kafka.Message, team string) bool {
	for _, m := range msgs {
		if bytes.Contains(m.Value, []byte(`"`+team+`"`)) {
			return true
		}
	}
	return false
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}
