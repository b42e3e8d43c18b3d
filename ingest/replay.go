package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Replay: items that failed for good wait in their source's failed place (an IMAP or
// Maildir failed folder, a drop zone's failed/) with a machine-readable reason. Once the
// cause is fixed (a limit raised, a sidecar corrected, a bug fixed), an operator moves
// them back with instroom replay, and the worker reads them again like new items. Every
// id is deterministic, so a replayed item gets the ids it would have had the first time.

// ErrReplayUnsupported is returned by a Replayer whose failed place cannot be read (a
// drop zone without FailedZone).
var ErrReplayUnsupported = errors.New("the source cannot list or move back its failed items")

// FailedItem is an item in a source's failed place.
type FailedItem struct {
	// Ref names the item in the failed place, for Replayer.Replay: a file name in
	// failed/, or imap:<account>/<failed folder>/<uidvalidity>/<uid>. It is an item
	// reference like Item.Ref (no message content), though not always the same one.
	Ref string
	// Origin is the reference the item had when it failed (its Item.Ref, as in logs and
	// dead letters), or "" when the source cannot know it: an IMAP mail gets a new UID
	// when it moves to the failed folder.
	Origin string
	// Reason is the machine-readable reason recorded with the item ("" when none was).
	Reason string
	// FailedAt is when the item failed (zero when not recorded: IMAP).
	FailedAt time.Time
	// ReceivedAt is when the source received the item, when the failed place keeps it
	// (IMAP INTERNALDATE); zero otherwise.
	ReceivedAt time.Time
	// Size is the item's size in bytes as its source counts it (-1 when not known).
	Size int64
	// Shared marks an item whose own source is not recorded in a failed place that
	// several sources share (the failed folder of an IMAP account with several watched
	// folders): each of them lists it, and a dead letter may claim it for any.
	Shared bool
	// Open streams the item's raw bytes as the source yielded them, which is what a dead
	// letter's sha256 digests (for a letter: its sidecar).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Replayer is implemented by a Source whose failed items can be re-driven. Its methods
// never read or settle items, so a source opened only to replay may run beside the
// worker that reads the same place: every move is atomic (a rename, an IMAP MOVE) or a
// copy before a delete (S3), and the worker simply reads the item again.
type Replayer interface {
	// ListFailed calls fn for every item in the source's failed place.
	ListFailed(ctx context.Context, fn func(FailedItem) error) error
	// Replay moves the failed item ref (a FailedItem.Ref) back to where the source reads,
	// without its failure record, and returns the reference the item has there now ("" when
	// the source cannot tell). An item that is no longer in the failed place gives an
	// error wrapping fs.ErrNotExist; one that would replace an item waiting under the
	// same name gives an error wrapping fs.ErrExist, and nothing is moved.
	Replay(ctx context.Context, ref string) (string, error)
}

// FailedZone is implemented by a DropZone whose failed items can be listed and moved
// back: storage/dropzone's Dir and S3Zone, and the Maildir. Its methods use only standard
// types so that storage packages satisfy it by shape.
type FailedZone interface {
	// ListFailed calls fn for every item in the failed place: its name there, the name it
	// had when it failed, the reason code and time of its failure record ("" and zero when
	// that is missing), and its size.
	ListFailed(ctx context.Context, fn func(name, origin, reason string, at time.Time, size int64) error) error
	// OpenFailed streams the failed item name.
	OpenFailed(ctx context.Context, name string) (io.ReadCloser, error)
	// Restore moves the failed item name back to the top level under the name it had when
	// it failed, removes its failure record, and returns that name. With fresh the item's
	// time becomes now, so halves that belong together (a letter's sidecar and scan) are
	// not taken for overdue halves while they are moved one after the other. A name not in
	// the failed place wraps fs.ErrNotExist; a name taken at the top level wraps
	// fs.ErrExist, and nothing is moved.
	Restore(ctx context.Context, name string, fresh bool) (string, error)
}

// LogID is how the worker's log named the item when it failed (Item.LogID): the hash of
// Origin, for the sources that name items by a file name; "" when Origin is not known
// (IMAP, whose log names the mail by its reference in the watched folder).
func (f FailedItem) LogID() string {
	if f.Origin == "" {
		return ""
	}
	return RefHash(f.Origin)
}

var _ Replayer = (*DropSource)(nil)

// ListFailed implements Replayer when the zone is a FailedZone.
func (s *DropSource) ListFailed(ctx context.Context, fn func(FailedItem) error) error {
	fz, ok := s.zone.(FailedZone)
	if !ok {
		return ErrReplayUnsupported
	}
	return fz.ListFailed(ctx, func(name, origin, reason string, at time.Time, size int64) error {
		return fn(FailedItem{
			Ref: name, Origin: origin, Reason: reason, FailedAt: at, Size: size,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return fz.OpenFailed(ctx, name) },
		})
	})
}

// Replay implements Replayer when the zone is a FailedZone: the item keeps its time (the
// zone's files are read on their own).
func (s *DropSource) Replay(ctx context.Context, ref string) (string, error) {
	fz, ok := s.zone.(FailedZone)
	if !ok {
		return "", ErrReplayUnsupported
	}
	return fz.Restore(ctx, ref, false)
}

// Digest returns the lowercase hex SHA-256 of what open streams.
func Digest(ctx context.Context, open func(context.Context) (io.ReadCloser, error)) (string, error) {
	rc, err := open(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("reading item: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digestTimeout bounds reading a failed item for its dead letter's digest.
const digestTimeout = time.Minute

// deadLetterDigest returns the SHA-256 of a failed item for its dead letter, "" when the
// item cannot be read. An item refused for its size is not read at all.
func deadLetterDigest(ctx context.Context, item *Item, reason string) string {
	if reason == ReasonTooLarge || item.Open == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, digestTimeout)
	defer cancel()
	sum, err := Digest(ctx, item.Open)
	if err != nil {
		return ""
	}
	return sum
}

// newDeadLetter is the dead letter of item, failed with err at the given time.
func newDeadLetter(ctx context.Context, s Stream, item *Item, err error, at time.Time) DeadLetterEvent {
	reason := ReasonOf(err)
	ev := DeadLetterEvent{
		Source: s.Name, Ref: item.Ref, Channel: s.Channel, Reason: reason, Error: err.Error(), At: at,
		SHA256: deadLetterDigest(ctx, item, reason), ReceivedAt: item.ReceivedAt.UTC().Truncate(time.Second),
	}
	if item.Size > 0 {
		ev.Size = item.Size
	}
	return ev
}

// MatchDeadLetter finds the item of dead letter ev among the failed items of its source.
// An item that kept its reference (drop zones, Maildirs, letters) is found by it; when
// several have it (the same name failed twice), by the digest, else the one that failed
// closest to ev.At. An item whose reference changed (IMAP) is found by its content: the
// digest when ev has one, else its size and receipt time (an item too large to read).
// Items of this source come before Shared ones. digest returns an item's SHA-256 (it may
// cache); it is called only when needed.
func MatchDeadLetter(ctx context.Context, ev DeadLetterEvent, items []FailedItem, digest func(context.Context, FailedItem) (string, error)) (FailedItem, bool, error) {
	var named []FailedItem
	for _, it := range items {
		if it.Origin != "" && it.Origin == ev.Ref {
			named = append(named, it)
		}
	}
	switch {
	case len(named) == 1:
		return named[0], true, nil
	case len(named) > 1:
		return pickNamed(ctx, ev, named, digest)
	}
	for _, shared := range []bool{false, true} {
		for _, it := range items {
			if it.Origin != "" || it.Shared != shared {
				continue
			}
			ok, err := sameContent(ctx, ev, it, digest)
			if err != nil {
				return FailedItem{}, false, err
			}
			if ok {
				return it, true, nil
			}
		}
	}
	return FailedItem{}, false, nil
}

// pickNamed chooses among failed items of the same name.
func pickNamed(ctx context.Context, ev DeadLetterEvent, named []FailedItem, digest func(context.Context, FailedItem) (string, error)) (FailedItem, bool, error) {
	if ev.SHA256 != "" {
		for _, it := range named {
			sum, err := digest(ctx, it)
			if err != nil {
				return FailedItem{}, false, err
			}
			if sum == ev.SHA256 {
				return it, true, nil
			}
		}
	}
	best := named[0]
	for _, it := range named[1:] {
		if absDuration(it.FailedAt.Sub(ev.At)) < absDuration(best.FailedAt.Sub(ev.At)) {
			best = it
		}
	}
	return best, true, nil
}

// sameContent reports whether a failed item whose reference changed is ev's item.
func sameContent(ctx context.Context, ev DeadLetterEvent, it FailedItem, digest func(context.Context, FailedItem) (string, error)) (bool, error) {
	if ev.SHA256 != "" {
		sum, err := digest(ctx, it)
		if err != nil {
			return false, err
		}
		return sum == ev.SHA256, nil
	}
	if ev.Size <= 0 || ev.ReceivedAt.IsZero() || it.ReceivedAt.IsZero() {
		return false, nil
	}
	return it.Size == ev.Size && it.ReceivedAt.Truncate(time.Second).Equal(ev.ReceivedAt.Truncate(time.Second)), nil
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
