package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest/ingesttest"
)

// The benchmarks measure the CPU of every process they start from /proc, as the kernel
// accounts it: utime+stime of each live process plus cutime+cstime (the children it has
// waited for), summed over a process tree. Linux only.

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procStat is one line of /proc/<pid>/stat.
type procStat struct {
	pid, ppid int
	comm      string
	// cpu is utime+stime (user, sys), children is cutime+cstime, in clock ticks.
	cpu, user, sys, children int64
	// start is the start time (clock ticks after boot): with pid it names a process.
	start int64
}

// readProcStat parses /proc/<pid>/stat; ok is false when the process is gone.
func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, false
	}
	// Fields after the comm: state(3) ppid(4) ... utime(14) stime(15) cutime(16)
	// cstime(17) ... starttime(22); f[0] is field 3.
	f := strings.Fields(s[closing+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i-3], 10, 64); return v }
	return procStat{pid: pid, ppid: int(n(4)), comm: s[open+1 : closing], cpu: n(14) + n(15), user: n(14), sys: n(15), children: n(16) + n(17), start: n(22)}, true
}

// allProcs reads the stat of every process on the machine.
func allProcs() map[int]procStat {
	ents, _ := os.ReadDir("/proc")
	out := make(map[int]procStat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(pid); ok {
			out[pid] = st
		}
	}
	return out
}

// treeCPU is the CPU (ticks) of the process tree under root: every live member's own
// time and the time of the children each has waited for. A member that exits between
// two samples moves into its parent's children time, so the sum only grows.
func treeCPU(procs map[int]procStat, root int) int64 {
	kids := map[int][]int{}
	for pid, st := range procs {
		kids[st.ppid] = append(kids[st.ppid], pid)
	}
	var sum int64
	var walk func(pid int)
	walk = func(pid int) {
		st, ok := procs[pid]
		if !ok {
			return
		}
		sum += st.cpu + st.children
		for _, k := range kids[pid] {
			walk(k)
		}
	}
	walk(root)
	return sum
}

// machineCPU is one sample of /proc/stat's first line: busy and idle (idle+iowait) ticks
// of all cores together; steal (time the hypervisor gave the virtual cores to others) is
// part of busy.
type machineCPU struct{ busy, idle, steal int64 }

func readMachineCPU() machineCPU {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return machineCPU{}
	}
	// cpu user nice system idle iowait irq softirq steal guest guest_nice
	f2 := strings.Fields(sc.Text())
	var m machineCPU
	for i, v := range f2[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch {
		case i == 3 || i == 4:
			m.idle += n
		case i < 8: // guest time is already counted in user
			m.busy += n
			if i == 7 {
				m.steal += n
			}
		}
	}
	return m
}

// cpuWatch names the process trees to account: a row per name, each the sum of trees.
type cpuWatch struct {
	names []string
	roots map[string][]int
	own   map[string]bool // the process alone, not its children
}

func (w *cpuWatch) add(name string, pids ...int) {
	if w.roots == nil {
		w.roots, w.own = map[string][]int{}, map[string]bool{}
	}
	if _, ok := w.roots[name]; !ok {
		w.names = append(w.names, name)
	}
	w.roots[name] = append(w.roots[name], pids...)
}

// addOwn watches one process without its children (the benchmark itself, whose children
// are the servers).
func (w *cpuWatch) addOwn(name string, pid int) {
	w.add(name, pid)
	w.own[name] = true
}

// cpuSample is the CPU of every watched tree and of the machine at one moment.
type cpuSample struct {
	at      time.Time
	trees   map[string]int64
	machine machineCPU
}

func (w *cpuWatch) sample() cpuSample {
	procs := allProcs()
	s := cpuSample{at: time.Now(), trees: map[string]int64{}, machine: readMachineCPU()}
	for _, n := range w.names {
		for _, pid := range w.roots[n] {
			if w.own[n] {
				s.trees[n] += procs[pid].cpu
			} else {
				s.trees[n] += treeCPU(procs, pid)
			}
		}
	}
	return s
}

// childrenOf returns the direct children of pid whose command (comm, or the base name of
// argv[0]) is name.
func childrenOf(pid int, name string) []int {
	var out []int
	for p, st := range allProcs() {
		if st.ppid != pid {
			continue
		}
		arg0 := ""
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); err == nil {
			arg0 = filepath.Base(strings.SplitN(string(b), "\x00", 2)[0])
		}
		if st.comm == name || arg0 == name {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// cpuRow is one process (tree) over an interval.
type cpuRow struct {
	name    string
	seconds float64 // CPU seconds in the interval
}

// cpuReport is the CPU of the watched trees between two samples, for n items.
type cpuReport struct {
	rows    []cpuRow
	wall    time.Duration
	items   int
	cores   int
	busy    float64 // CPU seconds of the whole machine
	steal   float64 // of busy: CPU seconds the hypervisor gave to other machines
	idle    float64 // idle share of the machine, 0..1
	extra   []cpuRow
	extraOf map[string]bool
	// ref is the yardstick: go-message reading one mail of the run (ingesttest.ReferenceRead)
	// just before and just after the phase; zero: not measured.
	ref [2]time.Duration
}

// report compares two samples. Names in others are shown but not counted in the chain
// (the benchmark's own polling, say).
func (w *cpuWatch) report(a, b cpuSample, items int, others ...string) cpuReport {
	r := cpuReport{wall: b.at.Sub(a.at), items: items, cores: runtime.NumCPU(), extraOf: map[string]bool{}}
	for _, n := range others {
		r.extraOf[n] = true
	}
	for _, n := range w.names {
		row := cpuRow{name: n, seconds: float64(b.trees[n]-a.trees[n]) * clockTick.Seconds()}
		if r.extraOf[n] {
			r.extra = append(r.extra, row)
		} else {
			r.rows = append(r.rows, row)
		}
	}
	busy, idle := b.machine.busy-a.machine.busy, b.machine.idle-a.machine.idle
	r.busy = float64(busy) * clockTick.Seconds()
	r.steal = float64(b.machine.steal-a.machine.steal) * clockTick.Seconds()
	if busy+idle > 0 {
		r.idle = float64(idle) / float64(busy+idle)
	}
	return r
}

// chainCPU is the CPU seconds of the counted rows together.
func (r cpuReport) chainCPU() float64 {
	sum := 0.0
	for _, row := range r.rows {
		sum += row.seconds
	}
	return sum
}

// perItem is CPU milliseconds per item.
func (r cpuReport) perItem(sec float64) float64 { return sec * 1000 / float64(r.items) }

// ceiling is the items/s the machine's cores allow at the measured CPU per item.
func (r cpuReport) ceiling() float64 {
	return float64(r.cores) / (r.chainCPU() / float64(r.items))
}

// table prints the report as Markdown.
func (r cpuReport) table() string {
	var sb strings.Builder
	wall := r.wall.Seconds()
	fmt.Fprintf(&sb, "\n| process | CPU during the phase | CPU per item |\n| --- | --- | --- |\n")
	line := func(name string, sec float64) {
		fmt.Fprintf(&sb, "| %s | %.0f %% of a core | %.3f ms |\n", name, sec/wall*100, r.perItem(sec))
	}
	for _, row := range r.rows {
		line(row.name, row.seconds)
	}
	line("**all of the above**", r.chainCPU())
	for _, row := range r.extra {
		line(row.name+" (not counted)", row.seconds)
	}
	rest := r.busy - r.steal - r.chainCPU()
	for _, row := range r.extra {
		rest -= row.seconds
	}
	line("anything else on the machine", max(rest, 0))
	line("taken by the hypervisor (steal)", r.steal)
	if r.ref[0] > 0 {
		fmt.Fprintf(&sb, "\nYardstick: go-message reads one of these mails in %.0f µs before the phase and %.0f µs after it; "+
			"the worker's CPU per item is **%.1f yardsticks**\n", us(r.ref[0]), us(r.ref[1]), r.yardsticks())
	}
	rate := float64(r.items) / wall
	fmt.Fprintf(&sb, "\n%d items in %.2f s = %.0f items/s; machine idle %.1f %% of %d cores; "+
		"ceiling %d cores / %.3f ms = %.0f items/s; **throughput / ceiling = %.0f %%**\n",
		r.items, wall, rate, r.idle*100, r.cores, r.cores, r.perItem(r.chainCPU()), r.ceiling(), rate/r.ceiling()*100)
	return sb.String()
}

// vmRSS reads a /proc/<pid>/status field (VmRSS, VmHWM) in bytes, 0 when it cannot.
func vmField(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// yardsticks is the worker's (the first row's) CPU per item in yardsticks (their mean).
func (r cpuReport) yardsticks() float64 {
	if r.ref[0] == 0 {
		return 0
	}
	return r.perItem(r.rows[0].seconds) * 1000 / us((r.ref[0]+r.ref[1])/2)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// yardstick measures ingesttest.ReferenceRead on raw, while nothing of the run is busy.
func yardstick(b testing.TB, raw []byte) time.Duration {
	d, err := ingesttest.ReferenceRead(raw, 300)
	if err != nil {
		b.Fatalf("yardstick: %v", err)
	}
	return d
}
