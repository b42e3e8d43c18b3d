package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest/ingesttest"
)

// BenchmarkBacklog runs the production binary (`go build`, no race detector) as
// `instroom run` on an IMAP backlog of ~20 KB mails (ingesttest.BenchMail: 4 KB of Dutch
// text and a 14 KB attachment) spread over two accounts and three folders, into versitygw
// and a kfake broker, and prints from /proc:
//
//   - the idle RSS: VmRSS once the worker is ready (/readyz) and has had 2 s with no work;
//
//   - per run on a backlog: mails/s from the start of the process until the last mail is
//     in a processed folder, the worker's user+system CPU per mail over the same time
//     (its start included), and its peak RSS (VmHWM); and the CPU of every process of
//     the stack and of the machine over the run, as BenchmarkChain prints it.
//
//     go test ./cmd/instroom -run '^$' -bench Backlog -benchtime 1x -timeout 20m -v
//
// INSTROOM_BENCH_BACKLOG (default 2000 mails per run) changes the size of the backlog.
// Nothing is asserted on time or memory: the figures are for docs/BENCHMARKS.md.
func BenchmarkBacklog(b *testing.B) {
	mails := envInt("INSTROOM_BENCH_BACKLOG", 2000)
	bin := buildBinary(b)
	st := newStack(b, false)
	b.Logf("mail size %d bytes, %d mails per backlog", len(ingesttest.BenchMail(0)), mails)
	createFolders(b, st)
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| run | mails/s | CPU per mail (user + system) | RSS | allocated per mail |\n| --- | --- | --- | --- | --- |\n")
	for _, w := range []int{8, 16} {
		rss := idleRSS(b, st, bin, w)
		fmt.Fprintf(&sb, "| idle, %d workers per source, ready, no mail | | | VmRSS %.1f MB | |\n", w, mb(rss))
	}
	b.ResetTimer()
	for n, w := range []int{8, 16} {
		raw := make([][]byte, mails)
		for i := range raw {
			raw[i] = ingesttest.BenchMail(n*mails + i)
		}
		appendSpread(b, st, raw)
		r := runBacklog(b, st, bin, w, mails, (n+1)*mails, raw[0])
		per := func(ticks int64) float64 { return float64(ticks) * clockTick.Seconds() * 1000 / float64(mails) }
		fmt.Fprintf(&sb, "| %d mails, %d workers per source | %.0f | %.3f ms (%.3f + %.3f) | peak VmHWM %.1f MB | %.0f KB in %.0f allocations |\n",
			mails, w, float64(mails)/r.wall.Seconds(), per(r.cpu.cpu), per(r.cpu.user), per(r.cpu.sys), mb(r.peak),
			r.allocBytes/float64(mails)/1024, r.allocs/float64(mails))
		b.Logf("%d mails, %d workers per source: every process from /proc over the same time (the worker from its start):%s", mails, w, r.all.table())
		if w == 8 {
			b.ReportMetric(per(r.cpu.cpu), "cpu-ms/mail")
			b.ReportMetric(float64(mails)/r.wall.Seconds(), "mails/s")
		} else {
			b.ReportMetric(mb(r.peak), "peak-MB-16w")
		}
	}
	b.StopTimer()
	b.Log(sb.String())
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// createFolders creates the watched folders, empty, so the worker is ready before any
// mail came (APPEND creates them otherwise).
func createFolders(b testing.TB, st *stack) {
	for _, f := range folders {
		if f.folder == "INBOX" {
			continue
		}
		c := st.dovecot.Client(b, f.user)
		err := c.Create(f.folder, nil).Wait()
		c.Close()
		if err != nil {
			b.Fatalf("creating %s/%s: %v", f.user, f.folder, err)
		}
	}
}

// buildBinary builds the instroom binary as production does (no race detector).
func buildBinary(b testing.TB) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "instroom")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs `bin run` on the stack's configuration with w workers per source and
// the ops endpoint on a free port, which it returns.
func startBinary(b testing.TB, st *stack, bin string, w int) (*workerProc, string) {
	ops := fmt.Sprintf("127.0.0.1:%d", ingesttest.FreePort(b))
	p := startProc(b, st, bin, fmt.Sprintf("INSTROOM_SOURCES_0_WORKERS=%d", w), fmt.Sprintf("INSTROOM_SOURCES_1_WORKERS=%d", w),
		"INSTROOM_LOG_LEVEL=warn", "INSTROOM_OPS_LISTEN="+ops)
	return p, ops
}

// idleRSS starts the worker on empty folders and returns its VmRSS once it is ready and
// has been idle for 2 s.
func idleRSS(b testing.TB, st *stack, bin string, w int) int64 {
	p, ops := startBinary(b, st, bin, w)
	p.waitFor("readiness", time.Minute, func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	time.Sleep(2 * time.Second)
	rss := vmField(p.cmd.Process.Pid, "VmRSS")
	if rss == 0 {
		b.Fatal("could not read the worker's VmRSS")
	}
	p.stop()
	return rss
}

// backlogRun is what one run on a backlog measured.
type backlogRun struct {
	wall time.Duration
	cpu  procStat  // of the worker process, from its start
	peak int64     // VmHWM
	all  cpuReport // every process of the stack and the machine, over the run
	// What the worker allocated from its start (go_memstats_alloc_bytes_total and
	// go_memstats_mallocs_total of its /metrics), its start included.
	allocBytes, allocs float64
}

// runBacklog starts the worker on the backlog of mails in the stack's folders and waits
// until the processed folders hold total mails.
func runBacklog(b testing.TB, st *stack, bin string, w, mails, total int, sample []byte) backlogRun {
	ref := yardstick(b, sample)
	p, ops := startBinary(b, st, bin, w)
	watch := stackWatch(b, st, p.cmd.Process.Pid)
	before := watch.sample()
	p.waitFor("the backlog", 20*time.Minute, func() bool { return st.processedTotal() == total })
	after := watch.sample()
	r := backlogRun{wall: after.at.Sub(before.at), all: watch.report(before, after, mails, benchSelf)}
	r.all.ref = [2]time.Duration{ref, yardstick(b, sample)}
	var ok bool
	if r.cpu, ok = readProcStat(p.cmd.Process.Pid); !ok {
		b.Fatal("could not read the worker's /proc stat")
	}
	r.peak = vmField(p.cmd.Process.Pid, "VmHWM")
	m := metricValues(b, ops)
	r.allocBytes, r.allocs = m["go_memstats_alloc_bytes_total"], m["go_memstats_mallocs_total"]
	p.stop()
	return r
}

// metricValues reads the unlabelled samples of the worker's /metrics.
func metricValues(b testing.TB, ops string) map[string]float64 {
	resp, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		b.Fatalf("reading the worker's metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	if out["go_memstats_mallocs_total"] == 0 {
		b.Fatal("the worker's metrics have no go_memstats_mallocs_total")
	}
	return out
}
