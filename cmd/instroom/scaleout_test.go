package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest/ingesttest"
)

// replica is one worker process of a scale-out test.
type replica struct {
	name, ops, intake string
	cmd               *exec.Cmd
	log               *syncBuffer
}

// activeRE matches instroom_source_active{source="..."} 1.
var activeRE = regexp.MustCompile(`(?m)^instroom_source_active\{source="([^"]+)"\} (\d)`)

// active returns the sources the replica runs now (nil when it does not answer).
func (r *replica) active() map[string]bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + r.ops + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	out := map[string]bool{}
	for _, m := range activeRE.FindAllStringSubmatch(b.String(), -1) {
		if m[2] == "1" {
			out[m[1]] = true
		}
	}
	return out
}

// TestScaleOut runs three workers with the same configuration against one broker
// (Apache Kafka under CI), Dovecot and versitygw: each IMAP folder is active in exactly
// one replica, every replica answers the intake API, and when the replica with the most
// sources is killed (SIGKILL) its folders move to the others within 30 s; every mail,
// before and after, ends as exactly one klantcontact.
func TestScaleOut(t *testing.T) {
	st := newStack(t, false)
	base, err := os.ReadFile(st.cfg)
	if err != nil {
		t.Fatal(err)
	}
	base = []byte(strings.Replace(string(base), "sources:\n", "sources:\n  - {name: brieven, type: dir, channel: brief, path: brieven, min_age: -1s, poll_interval: 100ms}\n", 1))
	// A letter drop zone shared by the replicas (one directory here; S3 in production)
	// beside the three IMAP folders.
	sources := []string{"belastingen.INBOX", "brieven", "info.Doorgestuurd", "info.INBOX"}
	token := "scale-out-token-0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	os.MkdirAll(filepath.Join(st.dir, "brieven", "scanstraat"), 0o755)
	var reps []*replica
	for i := range 3 {
		r := &replica{name: fmt.Sprintf("r%d", i), log: &syncBuffer{},
			ops: fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(t)), intake: fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(t))}
		cfg := filepath.Join(st.dir, r.name+".yaml")
		extra := fmt.Sprintf(`data_dir: data-%s
ops: {listen: %s}
intake:
  listen: %s
  vendors: {scanstraat: {channels: [brief], token_sha256: [%x]}}
scale_out: {group: e2e, session_timeout: 6s}
`, r.name, r.ops, r.intake, sum)
		if err := os.WriteFile(cfg, append(base, extra...), 0o644); err != nil {
			t.Fatal(err)
		}
		r.cmd = exec.Command(os.Args[0], "run", "-config", cfg)
		r.cmd.Env = append(os.Environ(), "INSTROOM_TEST_AS_MAIN=1")
		r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
		reps = append(reps, r)
	}
	logs := func() string {
		var b strings.Builder
		for _, r := range reps {
			fmt.Fprintf(&b, "--- %s\n%s\n", r.name, tail(r.log.String(), 3000))
		}
		return b.String()
	}
	// owners maps each source to the replicas that run it, among those still up.
	owners := func(up []*replica) map[string][]string {
		m := map[string][]string{}
		for _, r := range up {
			for s := range r.active() {
				m[s] = append(m[s], r.name)
			}
		}
		return m
	}
	exclusive := func(up []*replica) bool {
		m := owners(up)
		for _, s := range sources {
			if len(m[s]) != 1 {
				return false
			}
		}
		return true
	}
	waitExclusive := func(what string, up []*replica, timeout time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for !exclusive(up) {
			if time.Since(start) > timeout {
				t.Fatalf("%s: owners %v after %v\n%s", what, owners(up), timeout, logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitExclusive("every folder active in exactly one replica", reps, 60*time.Second)
	// Wait until all three have joined: then the four sources are spread over them.
	deadline := time.Now().Add(60 * time.Second)
	for {
		all := true
		for _, r := range reps {
			if len(r.active()) == 0 {
				all = false
			}
		}
		if all && exclusive(reps) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sources were not spread over the three replicas: %v\n%s", owners(reps), logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// From here on, sample the owners: a source run by two replicas in two samples in a
	// row (a scrape of three replicas is not atomic; one sample may straddle a handover)
	// is a failure.
	up := append([]*replica(nil), reps...)
	var upMu sync.Mutex
	overlap := make(chan string, 1)
	stopSampling := make(chan struct{})
	go func() {
		prev := map[string]bool{}
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(200 * time.Millisecond):
			}
			upMu.Lock()
			m := owners(up)
			upMu.Unlock()
			now := map[string]bool{}
			for s, o := range m {
				if len(o) > 1 {
					now[s] = true
					if prev[s] {
						select {
						case overlap <- fmt.Sprintf("%s run by %v", s, o):
						default:
						}
					}
				}
			}
			prev = now
		}
	}()

	// The intake API answers on every replica, whichever sources it runs: a letter pushed
	// to each is registered by the replica that runs the drop zone.
	for i, r := range reps {
		if err := ingesttest.WaitPort(r.intake, 30*time.Second); err != nil {
			t.Fatalf("%s: %v\n%s", r.name, err, logs())
		}
		side, scan, bestand := letterFiles(t, "brief-c2138.json", fmt.Sprintf("SCALE-%d", i))
		resp := pushLetter(t, "http://"+r.intake, token, side, scan, bestand)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("push to %s = %d, want 202", r.name, resp.StatusCode)
		}
	}
	processedLetters := func() int {
		n, _ := os.ReadDir(filepath.Join(st.dir, "brieven", "scanstraat", "processed"))
		return len(n)
	}

	st.appendMails(0, 30)
	st.waitFor("the first 30 mails processed", 90*time.Second, func() bool { return st.processedTotal() == 30 })

	// Kill the replica that runs the most folders.
	m := owners(reps)
	count := map[string]int{}
	for _, s := range sources {
		count[m[s][0]]++
	}
	victim := reps[0]
	for _, r := range reps {
		if count[r.name] > count[victim.name] {
			victim = r
		}
	}
	var survivors []*replica
	for _, r := range reps {
		if r != victim {
			survivors = append(survivors, r)
		}
	}
	st.appendMails(30, 30) // arriving while the replica dies
	upMu.Lock()
	up = survivors
	upMu.Unlock()
	victim.cmd.Process.Signal(syscall.SIGKILL)
	victim.cmd.Wait()
	took := waitExclusive("the killed replica's folders taken over", survivors, 30*time.Second)
	t.Logf("assignments:\n%s", assignLines(reps))
	t.Logf("replica %s with %d of %d folders killed; its folders ran elsewhere %v later", victim.name, count[victim.name], len(sources), took.Round(100*time.Millisecond))

	st.waitFor("all 60 mails processed", 90*time.Second, func() bool { return st.processedTotal() == 60 })
	st.waitFor("the three letters processed", 60*time.Second, func() bool { return processedLetters() == 6 })
	st.verify(60)
	close(stopSampling)
	select {
	case o := <-overlap:
		t.Errorf("a source ran in two replicas at once: %s\n%s", o, assignLines(reps))
	default:
	}
	for _, r := range survivors {
		if !strings.Contains(r.log.String(), "sources assigned") {
			t.Errorf("%s never logged its assignment", r.name)
		}
	}
}

// assignLines are the replicas' "sources assigned" log lines, for the test log.
func assignLines(reps []*replica) string {
	var b strings.Builder
	for _, r := range reps {
		for _, line := range strings.Split(r.log.String(), "\n") {
			if strings.Contains(line, "scale-out") {
				fmt.Fprintf(&b, "%s: %s\n", r.name, line)
			}
		}
	}
	return b.String()
}
