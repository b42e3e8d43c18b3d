package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
)

// benchID is the Message-ID (without brackets) of benchMail(i).
func benchID(i int) string {
	if os.Getenv("INSTROOM_BENCH_MAIL") == "synth" {
		return fmt.Sprintf("crash-%d@example.nl", i)
	}
	return fmt.Sprintf("bench-%d@example.nl", i)
}

// chainObjects returns the objects the worker stores for one mail (the .eml, the
// attachment and, for a text over 1,000 characters, the full text), as the stack's
// configuration maps it, and the contact-index record (the klantcontact's uuid under the
// hash of the Message-ID): every one a PUT.
func chainObjects(b *testing.B, st *stack, raw []byte) [][]byte {
	c, err := config.Load(st.cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	opts, err := mapOptions(c)
	if err != nil {
		b.Fatal(err)
	}
	in, err := mail.NewParser(nil).ParseBytes(raw, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	defer in.Cleanup()
	m, err := ingest.Map(in, opts)
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for _, o := range m.Objects {
		r, err := o.Content.Open(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, body)
	}
	if in.LinkKey != "" {
		out = append(out, []byte(m.Registration.Klantcontact.UUID))
	}
	return out
}

// appendSpread puts the mails round-robin into the watched folders.
func appendSpread(b *testing.B, st *stack, raw [][]byte) {
	per := map[int][][]byte{}
	for i, m := range raw {
		per[i%len(folders)] = append(per[i%len(folders)], m)
	}
	for f, ms := range per {
		st.dovecot.Append(b, folders[f].user, folders[f].folder, ms...)
	}
}

// runChain starts the worker as its own process on the backlog in the stack's folders and
// waits until all mails are processed. It returns the CPU of every process over that
// phase, with the yardstick on sample just before and after it, and the worker, still
// running.
func runChain(b *testing.B, st *stack, mails, workers int, sample []byte) (cpuReport, *workerProc) {
	ref := yardstick(b, sample)
	env := []string{fmt.Sprintf("INSTROOM_SOURCES_0_WORKERS=%d", workers), fmt.Sprintf("INSTROOM_SOURCES_1_WORKERS=%d", workers), "INSTROOM_LOG_LEVEL=warn"}
	if ci := os.Getenv("INSTROOM_BENCH_CHECK_INTERVAL"); ci != "" {
		env = append(env, "INSTROOM_SOURCES_0_IMAP_CHECK_INTERVAL="+ci, "INSTROOM_SOURCES_1_IMAP_CHECK_INTERVAL="+ci)
	}
	prof := os.Getenv("INSTROOM_BENCH_CPUPROFILE")
	if prof != "" {
		env = append(env, "INSTROOM_TEST_CPUPROFILE="+prof)
	}
	worker := startProc(b, st, os.Args[0], append(env, "INSTROOM_TEST_AS_MAIN=1")...)
	watch := stackWatch(b, st, worker.cmd.Process.Pid)
	before := watch.sample()
	worker.waitFor("the backlog", 20*time.Minute, func() bool { return st.processedTotal() == mails })
	after := watch.sample()
	if prof != "" {
		worker.cmd.Process.Signal(syscall.SIGUSR1)
		worker.waitFor("the CPU profile", time.Minute, func() bool { _, err := os.Stat(prof + ".done"); return err == nil })
		os.Remove(prof + ".done")
	}
	r := watch.report(before, after, mails, benchSelf)
	r.ref = [2]time.Duration{ref, yardstick(b, sample)}
	return r, worker
}

// benchSelf names the benchmark process's own row: its polling (counting the processed
// folders over IMAP) is not part of the chain.
const benchSelf = "the benchmark itself (polling Dovecot)"

// workerProc is the worker run as its own process: `bin run` on the stack's
// configuration (bin is the test binary acting as instroom, or a built instroom).
type workerProc struct {
	b      testing.TB
	st     *stack
	cmd    *exec.Cmd
	exited chan struct{} // closed once it has exited; err is then its end
	err    error
}

// startProc starts the worker with extra environment. It is killed when the benchmark
// ends.
func startProc(b testing.TB, st *stack, bin string, env ...string) *workerProc {
	cmd := exec.Command(bin, "run", "-config", st.cfg)
	// The benchmarks' own variables are not settings: the configuration refuses unknown
	// INSTROOM_ variables.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INSTROOM_BENCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = st.logBuf, st.logBuf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := &workerProc{b: b, st: st, cmd: cmd, exited: make(chan struct{})}
	go func() { w.err = cmd.Wait(); close(w.exited) }()
	b.Cleanup(func() { cmd.Process.Kill(); <-w.exited })
	return w
}

// waitFor polls cond every 100 ms until it holds; it fails when the worker exits first
// or the timeout passes.
func (w *workerProc) waitFor(what string, timeout time.Duration, cond func() bool) {
	w.b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-w.exited:
			w.b.Fatalf("the worker exited (%v) while waiting for %s\n%s", w.err, what, tail(w.st.logBuf.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			w.b.Fatalf("timed out waiting for %s\n%s", what, tail(w.st.logBuf.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the worker with SIGTERM, as an orchestrator does, and fails if it did not
// end cleanly.
func (w *workerProc) stop() {
	w.b.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	<-w.exited
	if w.err != nil {
		w.b.Fatalf("worker: %v\n%s", w.err, tail(w.st.logBuf.String(), 4000))
	}
}

// stackWatch watches the worker (pid) and every server process the stack started: the
// whole Dovecot process tree (master, imap, imap-login, auth, ...), versitygw and the
// broker (kfake, or Apache Kafka's JVM).
func stackWatch(b testing.TB, st *stack, worker int) *cpuWatch {
	w := &cpuWatch{}
	self := os.Getpid()
	w.add("the worker (instroom run)", worker)
	w.add("Dovecot (all its processes)", childrenOf(self, "dovecot")...)
	w.add("versitygw", childrenOf(self, "versitygw")...)
	if st.kafka.Apache != nil {
		pid, err := os.ReadFile(filepath.Join(st.kafka.Apache.Dir, "kafka.pid"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
		if err != nil || n == 0 {
			b.Fatalf("reading the Kafka broker's pid: %v", err)
		}
		w.add("Apache Kafka", n)
	} else {
		w.add("kfake", childrenOf(self, "instroom-kfake")...)
	}
	for _, n := range w.names {
		if len(w.roots[n]) == 0 {
			b.Fatalf("no process found for %s", n)
		}
	}
	w.addOwn(benchSelf, self)
	return w
}
