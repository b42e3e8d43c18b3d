package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
)

var faultReport = flag.String("fault-report", "", "TestFaults also writes its measurements, as Markdown, to this file (and the worker's log to FILE.worker.log)")

// The fault test's plan: 500 mails at a steady rate over ~3.3 minutes; after a warm-up, S3,
// Kafka and Dovecot are each stopped for 30 s in turn and restarted on the same port with
// the same data, with 30 s of observation after each restart (the worker's longest retry
// wait, so each fault's stragglers are settled before the next fault).
const (
	faultMails    = 500
	faultInterval = 400 * time.Millisecond // 2.5 mails/s: the last mail ~200 s after the first
	faultWarmup   = 15 * time.Second
	faultDown     = 30 * time.Second
	faultObserve  = 30 * time.Second
	// Throughput is "back" at the end of the first window of rateWindow after the restart
	// (counting only mails settled after it) that holds at least half the feed rate's mails.
	rateWindow = 2 * time.Second
)

// fault is one server made unavailable: stopped, then started again.
type fault struct {
	name                         string
	stop                         func()
	start                        func() error
	stopped, restarting, upAgain time.Time
}

// TestFaults: mail keeps arriving while S3, Kafka and Dovecot are each down for 30 s in
// turn. Nothing is lost, no klantcontact has two different payloads, every mail is settled
// and none failed. The recovery of the throughput after each fault is measured and
// logged (not asserted: wall-clock); -fault-report writes it for docs/BENCHMARKS.md.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: about 4 minutes")
	}
	st := newStack(t, true)
	t.Logf("Kafka broker: %s (INGESTTEST_BROKER=apache, or CI=true, for Apache Kafka)", st.kafka.Kind)
	st.dovecot.Append(t, "info", "Doorgestuurd") // the watched folder exists before the worker starts
	cmd := st.start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFeeder(st, map[string]string{"info": "geheim1", "belastingen": "geheim2"})
	var settled settleSampler
	go settled.run(ctx, st)
	fed := make(chan struct{})
	go func() { defer close(fed); f.run(ctx, faultMails, faultInterval) }()

	faults := []*fault{
		{name: "S3 (versitygw)", stop: st.s3.Stop, start: st.s3.Start},
		{name: "Kafka (" + st.kafka.Kind + ")", stop: st.kafka.Stop, start: st.kafka.Start},
		{name: "Dovecot (IMAP)", stop: func() { f.setDown(true); st.dovecot.Stop() },
			start: func() error { err := st.dovecot.Start(); f.setDown(false); return err }},
	}
	time.Sleep(faultWarmup)
	for _, fl := range faults {
		fl.stopped = time.Now()
		fl.stop()
		time.Sleep(faultDown - time.Since(fl.stopped))
		fl.restarting = time.Now()
		if err := fl.start(); err != nil {
			t.Fatalf("restarting %s: %v", fl.name, err)
		}
		fl.upAgain = time.Now()
		t.Logf("%s down for %v (restart took %v)", fl.name, fl.upAgain.Sub(fl.stopped).Round(time.Millisecond), fl.upAgain.Sub(fl.restarting).Round(time.Millisecond))
		time.Sleep(faultObserve)
	}
	<-fed
	delivered, direct, err := f.delivered()
	if err != nil || len(delivered) != faultMails {
		t.Fatalf("delivered %d of %d mails: %v", len(delivered), faultMails, err)
	}
	st.waitFor("every mail settled", 3*time.Minute, func() bool { n, _ := settled.snapshot(); return n >= faultMails })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("worker after SIGTERM = %v, want a clean exit", err)
	}
	_, settledAt := settled.snapshot()
	published := checkFaultOutcome(t, st)
	t.Logf("%d mails delivered (%d straight into the Maildir while Dovecot was down)", len(delivered), direct)
	reportFaults(t, st, faults, delivered, settledAt, published)
}

// checkFaultOutcome checks the end state: every mail settled into a processed folder,
// none failed, every mail exactly one klantcontact id and every id one payload (repeats
// of the same bytes are at-least-once delivery). It returns when each id was first
// published (the record's timestamp).
func checkFaultOutcome(t *testing.T, st *stack) []time.Time {
	t.Helper()
	st.verify(faultMails)
	for _, user := range []string{"info", "belastingen"} {
		if n := st.dovecot.Count(t, user, "Mislukt"); n != 0 {
			t.Errorf("%s's failed folder holds %d mails, want 0", user, n)
		}
	}
	msgs := st.consume("klantcontacten", faultMails)
	payloads := map[string]map[string]bool{} // id -> distinct payloads
	ids := map[string]map[string]bool{}      // onderwerp (one per mail) -> ids
	first := map[string]time.Time{}
	for _, m := range msgs {
		id := string(m.Key)
		if payloads[id] == nil {
			payloads[id] = map[string]bool{}
		}
		payloads[id][string(m.Value)] = true
		var reg ingest.Registration
		if err := json.Unmarshal(m.Value, &reg); err != nil {
			t.Fatalf("klantcontact %s: %v", id, err)
		}
		if ids[reg.Klantcontact.Onderwerp] == nil {
			ids[reg.Klantcontact.Onderwerp] = map[string]bool{}
		}
		ids[reg.Klantcontact.Onderwerp][id] = true
		if at, ok := first[id]; !ok || m.Time.Before(at) {
			first[id] = m.Time
		}
	}
	for id, p := range payloads {
		if len(p) != 1 {
			t.Errorf("klantcontact %s was published with %d different payloads", id, len(p))
		}
	}
	for subject, set := range ids {
		if len(set) != 1 {
			t.Errorf("mail %q became %d klantcontacten, want 1", subject, len(set))
		}
	}
	if len(ids) != faultMails || len(payloads) != faultMails {
		t.Errorf("%d mails and %d klantcontact ids on Kafka, want %d of each", len(ids), len(payloads), faultMails)
	}
	t.Logf("klantcontacten: %d records for %d ids (%d repeats of identical bytes)", len(msgs), len(payloads), len(msgs)-len(payloads))
	return sortedTimes(first)
}

func sortedTimes(m map[string]time.Time) []time.Time {
	out := make([]time.Time, 0, len(m))
	for _, at := range m {
		out = append(out, at)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// backAfter is how long after from the throughput was back: the end of the first window
// (max(from, t-rateWindow), t] holding need events. ok is false when it never was.
func backAfter(events []time.Time, from time.Time, need int) (time.Duration, bool) {
	var win []time.Time
	for _, e := range events {
		if e.Before(from) {
			continue
		}
		win = append(win, e)
		for len(win) > 0 && !win[0].After(e.Add(-rateWindow)) {
			win = win[1:]
		}
		if len(win) >= need {
			return e.Sub(from), true
		}
	}
	return 0, false
}

// countIn is the number of events in [from, to).
func countIn(events []time.Time, from, to time.Time) int {
	n := 0
	for _, e := range events {
		if !e.Before(from) && e.Before(to) {
			n++
		}
	}
	return n
}

// reportFaults logs, per fault, the rate before it and how long after the restart the
// throughput was back (settled mails and first publications) and the backlog was gone.
func reportFaults(t *testing.T, st *stack, faults []*fault, delivered, settled, published []time.Time) {
	feedRate := float64(time.Second) / float64(faultInterval)
	need := int(feedRate*rateWindow.Seconds()/2 + 0.999)
	var b strings.Builder
	fmt.Fprintf(&b, "Fault test (TestFaults): %d mails at %.2f/s; broker %s; race detector %s. "+
		"\"Back\": the first %v window after the restart with at least %d mails (half the feed rate).\n\n",
		faultMails, feedRate, st.kafka.Kind, raceState(), rateWindow, need)
	b.WriteString("| server down | stop → answering again | restart took | rate before (settled/s) | throughput back after (settled) | (published) | backlog settled after |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, fl := range faults {
		before := float64(countIn(settled, fl.stopped.Add(-10*time.Second), fl.stopped)) / 10
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %s | %s | %s |\n", fl.name,
			secs(fl.upAgain.Sub(fl.stopped)), secs(fl.upAgain.Sub(fl.restarting)), before,
			back(settled, fl.upAgain, need), back(published, fl.upAgain, need),
			drained(settled, fl.upAgain, countIn(delivered, time.Time{}, fl.upAgain)-countIn(settled, time.Time{}, fl.upAgain)))
	}
	t.Log("\n" + b.String())
	if *faultReport != "" {
		if err := os.WriteFile(*faultReport, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile(*faultReport+".worker.log", []byte(st.logBuf.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func back(events []time.Time, from time.Time, need int) string {
	if d, ok := backAfter(events, from, max(need, 1)); ok {
		return secs(d)
	}
	return "not within the test"
}

// drained is how long after from the backlog of n mails was settled.
func drained(settled []time.Time, from time.Time, n int) string {
	if n <= 0 {
		return secs(0)
	}
	for _, e := range settled {
		if !e.Before(from) {
			if n--; n <= 0 {
				return secs(e.Sub(from))
			}
		}
	}
	return "not within the test"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// raceState says whether this binary (and so the worker, which is this binary) was built
// with the race detector.
func raceState() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return "on"
			}
		}
	}
	return "off"
}
