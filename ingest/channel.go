package ingest

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Decoder decodes one block of configuration into v, a pointer to a struct with yaml
// tags. It is strict: an unknown key is an error. Environment overrides and *_file
// secrets (string fields tagged `secret:"true"`, with a sibling <key>_file) are applied
// before it returns, and every error names the YAML path. A channel gets a Decoder from
// the host for each block it owns, so it never needs to know the configuration format.
type Decoder func(v any) error

// Env is what the host (cmd) offers a channel while it sets itself up.
type Env struct {
	Logger *slog.Logger
	// DataDir is a directory the channel may use for state and spool files.
	DataDir string
	// MaxItemBytes is the largest item accepted (limits.max_message_bytes).
	MaxItemBytes int64
	// Once asks drop-zone sources to end when empty instead of waiting (instroom run -once).
	Once bool
	// CheckOnly is set by check-config: validate settings, open nothing, create nothing.
	CheckOnly bool
	// ReplayOnly is set by instroom replay: sources are opened only to list and move back
	// their failed items (Replayer), maybe beside a running worker, so a channel must not
	// clean up what a worker owns (its spool directory).
	ReplayOnly bool
	// DrainTimeout is how long an item in flight may finish after shutdown was asked.
	DrainTimeout time.Duration
	// Vendors are the configured vendors (intake.vendors), for channels that take
	// deliveries from vendors.
	Vendors []Vendor
	// Workers is the number of items handled at once by the channel's busiest source; a
	// channel may size its own pools (OCR) by it.
	Workers int
	// MappingHints decodes the channel's own keys of mapping.kanalen.<name> (beside the
	// host's kanaal, adres_omschrijving and zaak), such as a chat channel's by_kanaal.
	MappingHints Decoder
	// Metrics receives the channel's own measurements (nil: none are taken).
	Metrics ChannelMetrics
}

// ChannelMetrics receives measurements a channel takes itself, for the host's metrics.
// Label values are fixed words, never item content. Implementations must be safe for
// concurrent use.
type ChannelMetrics interface {
	// OCRPage records one page OCR'd (or tried): outcome is "ok", "failed" or
	// "too_large"; d is the time the OCR tool ran.
	OCRPage(outcome string, d time.Duration)
}

// SourceConfig is one configured source as the host hands it to the channel that reads
// it. The keys every source has are decoded by the host; the channel decodes its own
// keys (an IMAP account, Maildir folders, a pairing timeout, ...) with Settings.
type SourceConfig struct {
	// Name identifies the source in logs, metrics and dead letters.
	Name string
	// At is the source's YAML path ("sources[2]"), for error messages.
	At string
	// Type is the source type, one of the channel's SourceTypes or a drop-zone type.
	Type string
	// Path is the directory of a directory-based source (already absolute).
	Path         string
	PollInterval time.Duration
	Workers      int
	// DropZone opens the host's drop zone of a "dir" or "s3" source, rooted at its path
	// or prefix, or at the sub-folder sub of it when sub is not empty (a vendor's folder).
	// The host's zones are DropStores too (for the intake API). It is nil for the other
	// source types.
	DropZone func(ctx context.Context, sub string) (DropZone, error)
	// Settings decodes the channel-specific keys of this source.
	Settings Decoder
}

// DropZoneTypes are the source types the host provides for every channel: a local
// directory and an S3 prefix.
var DropZoneTypes = []string{"dir", "s3"}

// NamedSource is one source a configured source opened. An IMAP account with three
// folders is one configured source and three NamedSources; Suffix tells them apart in
// stream names ("info.INBOX").
type NamedSource struct {
	Suffix string
	Source Source
}

// Route is an HTTP endpoint a channel adds to the host's intake API server.
type Route struct {
	// Pattern is a net/http ServeMux pattern, e.g. "POST /v1/brieven".
	Pattern string
	Handler http.Handler
}

// Channel describes one channel to the host: its name, the sources it reads, how it
// parses their items, and the HTTP endpoints it adds. Each channel package exports one
// Channel value; cmd keeps the list of them. Adding a channel is a new package plus one
// entry in that list.
type Channel struct {
	// Name is the channel name: in configuration (sources[].channel), routing rules,
	// dead letters and deterministic ids.
	Name string
	// Defaults are the kanaal and wording of the channel's registrations.
	Defaults ChannelDefaults
	// SourceTypes are the source types the channel reads, including the DropZoneTypes
	// it accepts.
	SourceTypes []string
	// Setup decodes the channel's own settings (the channels.<name> block; settings
	// decodes into the channel's struct, and an absent block decodes nothing) and returns
	// the runtime of the channel. It does no I/O.
	Setup func(env Env, settings Decoder) (Runtime, error)
}

// Runtime is a channel set up for one run of the worker (or one check-config).
type Runtime interface {
	// Parser parses the channel's items.
	Parser() Parser
	// Sources validates one configured source and, unless env.CheckOnly, opens it.
	Sources(ctx context.Context, sc SourceConfig) ([]NamedSource, error)
	// Routes are the channel's intake API endpoints (nil: none).
	Routes() []Route
}

// SupportsType reports whether the channel reads sources of type t.
func (c Channel) SupportsType(t string) bool {
	for _, s := range c.SourceTypes {
		if s == t {
			return true
		}
	}
	return false
}

// FileItemer is implemented by a Runtime whose items are more than one file. It makes
// the item of a file on disk, for instroom inspect: a letter's sidecar with the scan it
// names beside it, the vendor from the folder it is in.
type FileItemer interface {
	FileItem(path string) (*Item, error)
}
