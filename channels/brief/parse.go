package brief

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// Reasons of the letter channel, besides ingest's (contracts/intake-api.md §8).
const (
	ReasonUnsupportedFormat = "unsupported_format" // the scan is not PDF, TIFF, PNG or JPEG by its first bytes
	ReasonMissingScan       = "missing_scan"       // the sidecar's scan did not arrive within pair_timeout
	ReasonMissingSidecar    = "missing_sidecar"    // no sidecar named the scan within pair_timeout
)

// maxSidecarBytes bounds a sidecar: ocrTekst may hold a million characters, each at most
// six bytes when escaped.
const maxSidecarBytes = 8 << 20

// spoolPattern names the parser's spool files (os.CreateTemp), so prepareSpool finds
// what a killed worker left.
const spoolPattern = "instroom-*"

// Options configure a Parser.
type Options struct {
	// OCR bounds the text recognition of one letter (zero values: the defaults).
	OCR OCRSettings
	// SpoolDir holds each scan while it is handled (the OCR tools need a file); empty:
	// the system's temporary directory.
	SpoolDir string
	// MaxBytes is the largest scan accepted (0: no limit); the host already refuses items
	// whose sidecar and scan together are larger.
	MaxBytes int64
	// Now returns the current time, used only when an item has no receipt time; nil:
	// time.Now.
	Now func() time.Time
	// Metrics receives the outcome and time of every page OCR'd (nil: not measured).
	Metrics ingest.ChannelMetrics
}

// Parser turns a letter (sidecar plus scan) into an intake. It is safe for concurrent use.
type Parser struct {
	opts Options
	x    *textExtractor
	// extract is x.extract; golden tests put a fixed text in its place, so registrations
	// do not depend on the installed OCR.
	extract func(ctx context.Context, path, format string) (text string, pages int, notes []string, err error)
}

var _ ingest.Parser = (*Parser)(nil)

// NewParser returns a letter parser. It does no I/O.
func NewParser(opts *Options) *Parser {
	p := &Parser{}
	if opts != nil {
		p.opts = *opts
	}
	s := ChannelSettings{OCR: p.opts.OCR}
	s.defaults()
	p.opts.OCR = s.OCR
	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	p.x = newTextExtractor(ocrOptions{
		MaxPages: p.opts.OCR.MaxPages, Timeout: p.opts.OCR.Timeout, Workers: p.opts.OCR.Workers, TempDir: p.opts.SpoolDir,
		Metrics: p.opts.Metrics,
	})
	p.extract = p.x.extract
	return p
}

// Parse implements ingest.Parser. The item's Open gives the sidecar; its Files hold the
// scan the sidecar names; its Vendor is the vendor key. An invalid sidecar or a scan of
// an unknown format is a permanent error; reading errors are temporary.
func (p *Parser) Parse(ctx context.Context, item *ingest.Item) (*ingest.Intake, error) {
	raw, err := readSidecar(ctx, item)
	if err != nil {
		return nil, err
	}
	sc, probs := decodeSidecar(raw)
	if probs != nil {
		return nil, sidecarError(probs)
	}
	if item.Vendor == "" {
		return nil, ingest.Permanentf(ingest.ReasonInvalid, "parsing letter: the item names no vendor")
	}
	file, err := scanFile(item, sc.Bestand)
	if err != nil {
		return nil, err
	}
	scan, err := p.spool(ctx, file)
	if err != nil {
		return nil, err
	}
	text, notes, err := p.text(ctx, sc, scan)
	if err != nil {
		scan.remove()
		return nil, err
	}
	received := item.ReceivedAt
	if received.IsZero() {
		received = p.opts.Now()
	}
	in := letterIntake(letter{sidecar: sc, raw: raw, vendor: item.Vendor, received: received, scan: scan.content(sc.Bestand), text: text, notes: notes})
	in.Cleanup = scan.remove
	return in, nil
}

func readSidecar(ctx context.Context, item *ingest.Item) ([]byte, error) {
	rc, err := item.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening sidecar: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxSidecarBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading sidecar: %w", err)
	}
	if len(raw) > maxSidecarBytes {
		return nil, ingest.Permanentf(ingest.ReasonTooLarge, "parsing letter: the sidecar is larger than %d bytes", maxSidecarBytes)
	}
	return raw, nil
}

// sidecarError is the permanent error of a sidecar that is not UTF-8 JSON (unparseable)
// or fails its schema (invalid). It names pointers and keywords only, never values.
func sidecarError(probs []intakeapi.InvalidParam) error {
	if len(probs) == 1 && probs[0].Code == "json" {
		return ingest.Permanentf(ingest.ReasonUnparseable, "parsing letter: the sidecar is not UTF-8 JSON")
	}
	return ingest.Permanentf(ingest.ReasonInvalid, "parsing letter: the sidecar fails brief.schema.json: %s", problemSummary(probs))
}

// scanFile finds the scan the sidecar names among the item's files. The source pairs them
// by that name, so a mismatch means the sidecar changed since it was listed: temporary,
// the next listing pairs it again.
func scanFile(item *ingest.Item, bestand string) (ingest.ItemFile, error) {
	for _, f := range item.Files {
		if f.Name == bestand && f.Open != nil {
			return f, nil
		}
	}
	return ingest.ItemFile{}, errors.New("parsing letter: the item does not hold the scan its sidecar names")
}

// spooled is a scan copied to the spool directory.
type spooled struct {
	path   string
	size   int64
	sha256 string
	format string // scanFormat of its first bytes
}

func (s *spooled) remove() { os.Remove(s.path) }

// content is the scan as informatieobject (soort origineel); it streams the spool file.
func (s *spooled) content(bestand string) ingest.Content {
	path := s.path
	return ingest.Content{
		Filename: bestand, ContentType: mediaType(s.format), Size: s.size, SHA256: s.sha256,
		Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) },
	}
}

// prefixWriter keeps the first bytes written to it.
type prefixWriter struct{ b []byte }

func (w *prefixWriter) Write(p []byte) (int, error) {
	if n := 16 - len(w.b); n > 0 {
		w.b = append(w.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// spool copies the scan to a spool file while hashing it and keeping its first bytes,
// which decide its format.
func (p *Parser) spool(ctx context.Context, file ingest.ItemFile) (*spooled, error) {
	rc, err := file.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening scan: %w", err)
	}
	defer rc.Close()
	if p.opts.SpoolDir != "" {
		if err := os.MkdirAll(p.opts.SpoolDir, 0o750); err != nil {
			return nil, fmt.Errorf("spooling scan: %w", err)
		}
	}
	f, err := os.CreateTemp(p.opts.SpoolDir, spoolPattern)
	if err != nil {
		return nil, fmt.Errorf("spooling scan: %w", err)
	}
	s := &spooled{path: f.Name()}
	h := sha256.New()
	var head prefixWriter
	var r io.Reader = rc
	if p.opts.MaxBytes > 0 {
		r = io.LimitReader(rc, p.opts.MaxBytes+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h, &head), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.remove()
		return nil, fmt.Errorf("spooling scan: %w", err)
	}
	if p.opts.MaxBytes > 0 && n > p.opts.MaxBytes {
		s.remove()
		return nil, ingest.Permanentf(ingest.ReasonTooLarge, "parsing letter: the scan is larger than %d bytes", p.opts.MaxBytes)
	}
	s.size, s.sha256, s.format = n, hex.EncodeToString(h.Sum(nil)), scanFormat(head.b)
	if s.format == "" {
		s.remove()
		return nil, ingest.Permanentf(ReasonUnsupportedFormat, "parsing letter: the scan is not PDF, TIFF, PNG or JPEG by its first bytes (%d bytes)", n)
	}
	return s, nil
}

// text is the letter's text: ocrTekst when the sidecar has it (even empty), else what
// the extractor reads from the scan. An extraction failure still registers the letter,
// with a note; only a cancelled ctx or a permanent error stops it.
func (p *Parser) text(ctx context.Context, sc *Sidecar, scan *spooled) (string, []string, error) {
	if sc.OCRTekst != nil {
		return *sc.OCRTekst, nil, nil
	}
	text, _, notes, err := p.extract(ctx, scan.path, scan.format)
	switch {
	case err == nil:
		return text, notes, nil
	case ctx.Err() != nil:
		return "", nil, fmt.Errorf("extracting text: %w", ctx.Err())
	case ingest.IsPermanent(err):
		return "", nil, fmt.Errorf("extracting text: %w", err)
	}
	return text, append(notes, "De tekst van de scan kon niet worden gelezen; zie de scan."), nil
}

// mediaType is the Content-Type of a scan format, whether scanFormat names it by media
// type ("application/pdf") or by short name ("pdf").
func mediaType(format string) string {
	switch format {
	case "pdf":
		return "application/pdf"
	case "tiff", "tif":
		return "image/tiff"
	case "png":
		return "image/png"
	case "jpeg", "jpg":
		return "image/jpeg"
	}
	return format
}
