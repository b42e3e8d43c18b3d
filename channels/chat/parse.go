package chat

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// defaultMaxBytes bounds a transcript when no limit is configured.
const defaultMaxBytes = 64 << 20

// Options configure a Parser.
type Options struct {
	// Settings are the channel's settings (zero values: the defaults).
	Settings ChannelSettings
	// URLHosts are, per vendor key, the hosts attachments may be fetched from.
	URLHosts map[string][]string
	// MaxBytes is the largest transcript, and the largest attachment fetched by URL
	// (limits.max_message_bytes; 0: 64 MiB).
	MaxBytes int64
	// AllowPrivate lets attachment downloads reach loopback and private addresses. Tests
	// only: in production a URL must never reach the internal network.
	AllowPrivate bool
	// TLS is the TLS configuration of attachment downloads (nil: the system's roots).
	TLS *tls.Config
	// Now returns the current time, used only when an item has no receipt time; nil:
	// time.Now.
	Now func() time.Time
}

// Parser turns a transcript into an intake. It is safe for concurrent use.
type Parser struct {
	opts  Options
	fetch func(ctx context.Context, vendor, url string) (b []byte, skip string, err error)
}

var _ ingest.Parser = (*Parser)(nil)

// NewParser returns a transcript parser. It does no I/O.
func NewParser(opts *Options) *Parser {
	p := &Parser{}
	if opts != nil {
		p.opts = *opts
	}
	if p.opts.MaxBytes <= 0 {
		p.opts.MaxBytes = defaultMaxBytes
	}
	p.opts.Settings.defaults()
	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	p.fetch = newFetcher(p.opts.URLHosts, p.opts.MaxBytes, p.opts.Settings.Fetch.Timeout, p.opts.AllowPrivate, p.opts.TLS).fetch
	return p
}

// Parse implements ingest.Parser. The item's Open gives the transcript JSON; its Vendor
// is the vendor key. A transcript that is not UTF-8 JSON, fails its schema or names no
// vendor is a permanent error; reading errors and attachment downloads that fail for
// another reason than 404/410, size or an address not allowed are temporary.
func (p *Parser) Parse(ctx context.Context, item *ingest.Item) (*ingest.Intake, error) {
	raw, err := p.read(ctx, item)
	if err != nil {
		return nil, err
	}
	g, probs := decodeGesprek(raw)
	if probs != nil {
		return nil, gesprekError(probs)
	}
	if item.Vendor == "" {
		return nil, ingest.Permanentf(ingest.ReasonInvalid, "parsing transcript: the item names no vendor")
	}
	atts, notes, err := p.attachments(ctx, g, item.Vendor)
	if err != nil {
		return nil, err
	}
	received := item.ReceivedAt
	if received.IsZero() {
		received = p.opts.Now()
	}
	return gesprekIntake(conversation{g: g, raw: raw, vendor: item.Vendor, received: received, attachments: atts, notes: notes}, &p.opts.Settings), nil
}

func (p *Parser) read(ctx context.Context, item *ingest.Item) ([]byte, error) {
	rc, err := item.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening transcript: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, p.opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading transcript: %w", err)
	}
	if int64(len(raw)) > p.opts.MaxBytes {
		return nil, ingest.Permanentf(ingest.ReasonTooLarge, "parsing transcript: larger than %d bytes", p.opts.MaxBytes)
	}
	return raw, nil
}

// gesprekError is the permanent error of a transcript that is not UTF-8 JSON
// (unparseable) or fails its schema (invalid). It names pointers and keywords only,
// never values.
func gesprekError(probs []intakeapi.InvalidParam) error {
	if len(probs) == 1 && probs[0].Code == "json" {
		return ingest.Permanentf(ingest.ReasonUnparseable, "parsing transcript: not UTF-8 JSON")
	}
	return ingest.Permanentf(ingest.ReasonInvalid, "parsing transcript: fails gesprek.schema.json: %s", problemSummary(probs))
}

// attachments are the files of the messages in order: inline ones decoded, URLs
// fetched. One that is not fetched for good is left out with a note.
func (p *Parser) attachments(ctx context.Context, g *Gesprek, vendor string) ([]ingest.Content, []string, error) {
	var out []ingest.Content
	var notes []string
	for i, m := range g.Berichten {
		for j, a := range m.Bijlagen {
			var b []byte
			var skip string
			if a.URL != "" {
				var err error
				if b, skip, err = p.fetch(ctx, vendor, a.URL); err != nil {
					return nil, nil, fmt.Errorf("message %d, attachment %d: %w", i+1, j+1, err)
				}
			} else {
				var err error
				if b, err = base64.StdEncoding.DecodeString(a.Inhoud); err != nil {
					skip = "de inhoud is geen geldige base64" // the schema's pattern makes this unreachable
				} else if int64(len(b)) > p.opts.MaxBytes {
					skip = skipTooLarge
				}
			}
			if skip != "" {
				notes = append(notes, fmt.Sprintf("De bijlage %q (bericht %d) is niet opgehaald: %s; zie het originele gesprek.", ingest.SafeFilename(a.Bestandsnaam), i+1, skip))
				continue
			}
			out = append(out, ingest.BytesContent(a.Bestandsnaam, a.MediaType, b))
		}
	}
	return out, notes, nil
}
