package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/attempts"
	"github.com/instroom/instroom/storage/dropzone"
)

// instroom replay moves failed items back to where their source reads them, so the worker
// (running or started later) handles them again.
//
// Its listing shows each item's reference: IMAP UIDs, and for drop zones and Maildirs the
// file names as delivered, which may hold a vendor's or a citizen's words. The worker's
// log names such items by a hash instead (shown beside them as LOG ID, and accepted by
// -ref). The names are shown because this is the operator's own terminal, not a log, the
// operator may read the failed places anyway, and a name is what tells two failed items
// apart or can be checked with the vendor. Its output is not meant to be collected into a
// log store (docs/OPERATIONS.md says so).

// The sources that can replay.
var (
	_ ingest.FailedZone = (*dropzone.Dir)(nil)
	_ ingest.FailedZone = (*dropzone.S3Zone)(nil)
	_ ingest.Replayer   = (*mail.IMAPSource)(nil)
)

// replayOptions are the flags of instroom replay.
type replayOptions struct {
	source, reason, ref, deadLetters string
	dryRun                           bool
}

// chosen is a failed item picked for replay, with the stream it goes back to.
type chosen struct {
	stream ingest.Stream
	item   ingest.FailedItem
}

func cmdReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	fs := flags("replay", stderr)
	path := fs.String("config", "", "configuration `file`")
	var o replayOptions
	fs.StringVar(&o.source, "source", "", "only the source `NAME` (a configured source name, or one folder of it such as info.INBOX)")
	fs.StringVar(&o.reason, "reason", "", "only items that failed with `REASON` (too_large, invalid, poison, ...)")
	fs.StringVar(&o.ref, "ref", "", "only the item `REF`: as -dry-run lists it (its REF or LOG ID), or a drop-zone item's ref in a dead letter")
	fs.StringVar(&o.deadLetters, "dead-letters", "", "re-drive exactly the items of the dead-letter events in `FILE` (JSON lines; - for standard input)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would be re-driven; move nothing")
	if err := fs.Parse(args); err != nil {
		return errUsageOr(err)
	}
	if fs.NArg() != 0 || (o.ref != "" && o.deadLetters != "") {
		fmt.Fprintln(stderr, "usage: instroom replay -config FILE [-source NAME] [-reason R] [-ref REF | -dead-letters FILE|-] [-dry-run]")
		return errUsage
	}
	c, err := loadConfig(*path, environ)
	if err != nil {
		return err
	}
	var events []ingest.DeadLetterEvent
	if o.deadLetters != "" {
		if events, err = readDeadLetterFile(o.deadLetters, stdin); err != nil {
			return err
		}
	}
	streams, err := replayStreams(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range streams {
			s.Source.Close()
		}
	}()
	r := &replayRun{opts: o, stderr: stderr, digests: map[string]string{}, failed: map[string][]ingest.FailedItem{}}
	if r.selected, err = selectStreams(c, streams, o.source); err != nil {
		return err
	}
	var items []chosen
	if o.deadLetters != "" {
		items = r.pickDeadLetters(ctx, streams, events)
	} else {
		items = r.pickListed(ctx)
	}
	if o.dryRun {
		printListing(stdout, items)
		fmt.Fprintf(stdout, "%d failed item(s) would be re-driven (dry run: nothing moved)\n", len(items))
	} else if err := r.replay(ctx, c, items, stdout); err != nil {
		return err
	}
	return r.outcome()
}

// replayStreams opens every configured source the way the worker does, without reading
// any: no item is taken, no spool cleaned.
func replayStreams(ctx context.Context, c *config.Config, stderr io.Writer) ([]ingest.Stream, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env := channelEnv(c, log, false, false)
	env.ReplayOnly = true
	cs, err := setupChannels(c, env)
	if err != nil {
		return nil, err
	}
	return newStreams(ctx, c, cs, false)
}

// selectStreams returns the streams -source names: a stream by its name, or every stream
// of a configured source. Without -source, all.
func selectStreams(c *config.Config, streams []ingest.Stream, name string) ([]ingest.Stream, error) {
	if name == "" {
		return streams, nil
	}
	configured := false
	for _, sc := range c.Sources {
		configured = configured || sc.Name == name
	}
	var out []ingest.Stream
	for _, s := range streams {
		if s.Name == name || (configured && strings.HasPrefix(s.Name, name+".")) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		var names []string
		for _, s := range streams {
			names = append(names, s.Name)
		}
		return nil, fmt.Errorf("replay: there is no source %q (sources: %s)", name, strings.Join(names, ", "))
	}
	return out, nil
}

// replayRun is one run of instroom replay.
type replayRun struct {
	opts     replayOptions
	stderr   io.Writer
	selected []ingest.Stream
	failed   map[string][]ingest.FailedItem // per stream, as listed
	digests  map[string]string              // stream + ref → sha256
	notFound int
	errors   int
}

// list returns the failed items of a stream (listed once per run).
func (r *replayRun) list(ctx context.Context, s ingest.Stream) ([]ingest.FailedItem, bool) {
	if items, ok := r.failed[s.Name]; ok {
		return items, true
	}
	rp, ok := s.Source.(ingest.Replayer)
	if !ok {
		r.problem("source %s: %v", s.Name, ingest.ErrReplayUnsupported)
		return nil, false
	}
	var items []ingest.FailedItem
	err := rp.ListFailed(ctx, func(it ingest.FailedItem) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		r.problem("source %s: listing failed items: %v", s.Name, err)
		return nil, false
	}
	r.failed[s.Name] = items
	return items, true
}

func (r *replayRun) problem(format string, args ...any) {
	r.errors++
	fmt.Fprintf(r.stderr, "instroom replay: "+format+"\n", args...)
}

// pickListed picks the failed items of the selected streams that match -reason and -ref.
// An item in a failed place several streams share is picked once, for the first.
func (r *replayRun) pickListed(ctx context.Context) []chosen {
	var out []chosen
	seen := map[string]bool{}
	for _, s := range r.selected {
		items, _ := r.list(ctx, s)
		for _, it := range items {
			if r.opts.reason != "" && it.Reason != r.opts.reason {
				continue
			}
			if r.opts.ref != "" && it.Ref != r.opts.ref && it.Origin != r.opts.ref && it.LogID() != r.opts.ref {
				continue
			}
			if it.Shared && seen[it.Ref] {
				continue
			}
			seen[it.Ref] = true
			out = append(out, chosen{stream: s, item: it})
		}
	}
	if r.opts.ref != "" && len(out) == 0 {
		r.notFound++
		fmt.Fprintf(r.stderr, "instroom replay: not found: %s (an IMAP mail's reference changes when it moves to the failed folder: use the one -dry-run lists, or -dead-letters)\n", r.opts.ref)
	}
	return out
}

// pickDeadLetters picks the item of every dead letter (once each) among the failed items
// of its stream, skipping the events -source and -reason leave out.
func (r *replayRun) pickDeadLetters(ctx context.Context, streams []ingest.Stream, events []ingest.DeadLetterEvent) []chosen {
	var out []chosen
	taken := map[string]bool{} // stream + failed ref
	seen := map[string]bool{}  // the events' own identity: source, ref, digest
	for _, ev := range events {
		key := ev.Source + "\x00" + ev.Ref + "\x00" + ev.SHA256
		if seen[key] || (r.opts.reason != "" && ev.Reason != r.opts.reason) {
			continue
		}
		seen[key] = true
		s, ok := findStream(r.selected, ev.Source)
		if !ok {
			if _, exists := findStream(streams, ev.Source); !exists {
				r.notFound++
				fmt.Fprintf(r.stderr, "instroom replay: not found: dead letter of %s %s: no such source in the configuration\n", ev.Source, ev.Ref)
			}
			continue // left out by -source
		}
		items, ok := r.list(ctx, s)
		if !ok {
			continue
		}
		var free []ingest.FailedItem
		for _, it := range items {
			if !taken[s.Name+"\x00"+it.Ref] {
				free = append(free, it)
			}
		}
		it, found, err := ingest.MatchDeadLetter(ctx, ev, free, r.digest(s))
		switch {
		case err != nil:
			r.problem("dead letter of %s %s: %v", ev.Source, ev.Ref, err)
		case !found:
			r.notFound++
			fmt.Fprintf(r.stderr, "instroom replay: not found: dead letter of %s %s (%s): not in its failed place (re-driven already?)\n", ev.Source, ev.Ref, ev.Reason)
		default:
			taken[s.Name+"\x00"+it.Ref] = true
			out = append(out, chosen{stream: s, item: it})
		}
	}
	return out
}

func findStream(streams []ingest.Stream, name string) (ingest.Stream, bool) {
	for _, s := range streams {
		if s.Name == name {
			return s, true
		}
	}
	return ingest.Stream{}, false
}

// digest returns the digest function MatchDeadLetter uses for a stream's items, cached
// across the run's dead letters.
func (r *replayRun) digest(s ingest.Stream) func(context.Context, ingest.FailedItem) (string, error) {
	return func(ctx context.Context, it ingest.FailedItem) (string, error) {
		key := s.Name + "\x00" + it.Ref
		if d, ok := r.digests[key]; ok {
			return d, nil
		}
		if it.Open == nil {
			return "", nil
		}
		d, err := ingest.Digest(ctx, it.Open)
		if err != nil {
			return "", fmt.Errorf("reading failed item %s: %w", it.Ref, err)
		}
		r.digests[key] = d
		return d, nil
	}
}

// replay moves the picked items back, clears their attempt records, and prints a line
// for each and a summary.
func (r *replayRun) replay(ctx context.Context, c *config.Config, picked []chosen, stdout io.Writer) error {
	log := filepath.Join(c.DataDir, "attempts")
	done := 0
	for _, p := range picked {
		// Forget earlier attempts, or a poison item would be poison again at once: before
		// the move, so the worker cannot see the item with its old record.
		if !r.clearAttempts(log, p, p.item.Origin) {
			continue
		}
		now, err := p.stream.Source.(ingest.Replayer).Replay(ctx, p.item.Ref)
		if err != nil {
			r.problem("source %s, item %s: %v", p.stream.Name, p.item.Ref, err)
			continue
		}
		if now != p.item.Origin {
			r.clearAttempts(log, p, now) // a new reference (IMAP): nothing recorded yet, normally
		}
		done++
		if now == "" {
			now = "(new reference not reported)"
		}
		fmt.Fprintf(stdout, "re-driven  %s  %s -> %s\n", p.stream.Name, p.item.Ref, now)
	}
	fmt.Fprintf(stdout, "re-driven %d of %d failed item(s)\n", done, len(picked))
	return nil
}

// clearAttempts removes the attempt record of the item under ref ("" : none), and says
// whether that worked.
func (r *replayRun) clearAttempts(log string, p chosen, ref string) bool {
	if ref == "" {
		return true
	}
	if err := attempts.Forget(log, ingest.AttemptKey(p.stream.Name, ref)); err != nil {
		r.problem("source %s, item %s: clearing its attempt record: %v", p.stream.Name, p.item.Ref, err)
		return false
	}
	return true
}

// outcome is the run's error: items named but not found, or not moved.
func (r *replayRun) outcome() error {
	var parts []string
	if r.notFound > 0 {
		parts = append(parts, fmt.Sprintf("%d item(s) not found", r.notFound))
	}
	if r.errors > 0 {
		parts = append(parts, fmt.Sprintf("%d error(s)", r.errors))
	}
	if len(parts) == 0 {
		return nil
	}
	return errors.New("replay: " + strings.Join(parts, ", "))
}

// printListing prints the picked items as a table: source, reference, how the log named
// it, reason, failure time and receipt time ("-" where not known).
func printListing(w io.Writer, picked []chosen) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tREF\tLOG ID\tREASON\tFAILED AT\tRECEIVED")
	for _, p := range picked {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.stream.Name, p.item.Ref, dash(p.item.LogID()), dash(p.item.Reason), stamp(p.item.FailedAt), stamp(p.item.ReceivedAt))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
