package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"time"
)

// Item is one unit read from a source: a mail, a scan with its sidecar, a transcript.
type Item struct {
	// Ref is a stable reference to the item at its source (mailbox+UIDVALIDITY+UID, a file
	// name). It identifies the item in logs and dead-letter events; it is not citizen data.
	Ref string
	// LogRef, when set, is how logs name the item: a reference that holds no citizen
	// data (an IMAP account, folder and UID). Empty: logs use LogID, a hash of Ref, since
	// a file name in a drop zone may hold a subject or a name.
	LogRef string
	// Size is the item's size in bytes, or -1 when the source does not know it.
	Size int64
	// ReceivedAt is when the source received the item (delivery time, file time).
	ReceivedAt time.Time
	// Open returns the item's raw bytes. It may be called more than once; every call
	// streams the content from the start.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Vendor is the vendor that delivered the item, for channels whose ids are scoped per
	// vendor (letters, transcripts); empty otherwise.
	Vendor string
	// Files are further files that belong to the item (a letter's scan); usually none.
	Files []ItemFile
	// Refused, when set, says the source already knows the item cannot be handled (a
	// letter's half whose other half never came). The pipeline fails the item with this
	// error, without parsing it: it publishes its dead letter and acks the item with the
	// error, so the source moves it to its failed place. It should be permanent (see
	// Permanent); one that is not fails as rejected. No citizen data in its text.
	Refused error
}

// AckFunc settles an item. A nil error means it was fully handled (stored and published):
// the source moves it to its processed place. An error for which IsPermanent holds means
// it can never be handled: the source moves it to its failed place with the reason. Any
// other error leaves the item where it is, to be read again.
type AckFunc func(ctx context.Context, err error) error

// Source yields items from one place (a Maildir, an IMAP folder, a drop zone).
type Source interface {
	// Read blocks until an item is available, ctx is done, or the source fails. An item is
	// not yielded again while it is unsettled.
	Read(ctx context.Context) (*Item, AckFunc, error)
	// Close releases the source. Unsettled items stay where they are.
	Close() error
}

// Parser turns an item's raw bytes into a channel-neutral Intake. A parser marks errors
// that retrying cannot fix with Permanent.
type Parser interface {
	Parse(ctx context.Context, item *Item) (*Intake, error)
}

// BlobStore stores informatieobject content under a key. Put with an existing key
// overwrites it, so a retried item replaces its earlier objects.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
}

// Header is one message header.
type Header struct {
	Key   string
	Value string
}

// Message is one event for the event bus.
type Message struct {
	Topic   string
	Key     string
	Headers []Header
	Value   []byte
}

// Publisher publishes events. Publish returns only when every message is durably
// accepted (Kafka: acknowledged by all in-sync replicas), or with an error.
type Publisher interface {
	Publish(ctx context.Context, msgs ...Message) error
}

// ItemFile is a further file delivered with an item: a letter's scan beside its sidecar.
type ItemFile struct {
	Name string // the file's name in its drop zone (a vendor's name: never a storage key)
	Size int64
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// LogID is the item's name in logs: LogRef, or "h:" and the first 16 hex digits of the
// SHA-256 of Ref (instroom replay -dry-run prints it beside each failed item).
func (i *Item) LogID() string {
	if i.LogRef != "" {
		return i.LogRef
	}
	return RefHash(i.Ref)
}

// RefHash is the log name of an item reference that may hold citizen data.
func RefHash(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "h:" + hex.EncodeToString(sum[:8])
}
