// Package mail is the e-mail channel: its sources (IMAP accounts, Maildirs beside the mail
// server, drop folders of .eml and Outlook .msg files), its parser, and its descriptor
// for the host.
//
// # Parsing
//
// The parser streams: it reads a mail once, keeps the body text in memory (bounded) and
// spools every attachment (to the spool directory once it is larger than 1 MiB), so the
// memory a mail costs is bounded by buffers, not by its size. It is forgiving: real-world
// mail with obsolete header syntax, NUL bytes, unknown transfer encodings, a missing or
// unquoted boundary, a missing closing delimiter, truncated base64, lying charset labels,
// broken RFC 2047 words, S/MIME and PGP, Outlook's winmail.dat and .msg files all become
// intakes, with a note for the KCC colleague for each kind of repair (and none when
// nothing was repaired). Only input that is not a mail at all, or over the size limit, is
// refused, with a permanent error. Error texts never contain message content.
package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/instroom/instroom/ingest"
)

// Channel is the channel name of e-mail intakes.
const Channel = "email"

// Options configure the parser.
type Options struct {
	// MaxBytes is the largest message accepted (default 50 MiB).
	MaxBytes int64
	// Timeout bounds the time spent parsing one mail (default 60s). A mail that takes
	// longer is registered with what was read so far, and a note.
	Timeout time.Duration
	// MaxParts is the most MIME parts read from one mail (default 500).
	MaxParts int
	// SpoolDir holds attachments larger than 1 MiB while the mail is handled (default
	// os.TempDir()).
	SpoolDir string
}

// Parser parses mails. It is safe for concurrent use.
type Parser struct {
	opts Options
	// Buffered readers are reused: one per mail, one per MIME part being read.
	mailBufs sync.Pool
	partBufs sync.Pool
	// scratch reads attachments kept in memory.
	scratch scratchPool
}

const (
	mailBufSize = 16 << 10
	partBufSize = 8 << 10 // a delimiter line must fit: boundaries are at most 70 characters
)

// reader returns a buffered reader of r from pool. It is always a reader of its own:
// bufio.NewReaderSize would hand back r itself when r is a large enough *bufio.Reader,
// and releasing that would reset the caller's reader.
func (p *Parser) reader(pool *sync.Pool, size int, r io.Reader) *bufio.Reader {
	br, ok := pool.Get().(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(nil, size)
	}
	br.Reset(r)
	return br
}

func (p *Parser) release(pool *sync.Pool, br *bufio.Reader) {
	br.Reset(nil)
	pool.Put(br)
}

// NewParser returns a mail parser; opts may be nil.
func NewParser(opts *Options) *Parser {
	p := &Parser{}
	if opts != nil {
		p.opts = *opts
	}
	if p.opts.MaxBytes <= 0 {
		p.opts.MaxBytes = 50 << 20
	}
	if p.opts.Timeout <= 0 {
		p.opts.Timeout = 60 * time.Second
	}
	if p.opts.MaxParts <= 0 {
		p.opts.MaxParts = 500
	}
	return p
}

// errTooLarge is the refusal of a mail over the size limit.
func (p *Parser) errTooLarge() error {
	return ingest.Permanentf(ingest.ReasonTooLarge, "mail is over the limit of %d bytes", p.opts.MaxBytes)
}

// Parse implements ingest.Parser. The intake's Original streams from the item itself;
// its attachments from the spool, until the intake's Cleanup.
func (p *Parser) Parse(ctx context.Context, item *ingest.Item) (*ingest.Intake, error) {
	if item.Size > p.opts.MaxBytes {
		return nil, ingest.Permanentf(ingest.ReasonTooLarge, "mail of %d bytes is over the limit of %d bytes", item.Size, p.opts.MaxBytes)
	}
	rc, err := item.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening mail: %w", err)
	}
	defer rc.Close()
	in, err := p.parse(ctx, rc, item.ReceivedAt)
	if err != nil {
		return nil, err
	}
	in.Original.Open = item.Open
	return in, nil
}

// ParseBytes parses a whole mail held in memory; the intake's Original streams from raw.
// Call the intake's Cleanup when done with it.
func (p *Parser) ParseBytes(raw []byte, received time.Time) (*ingest.Intake, error) {
	if int64(len(raw)) > p.opts.MaxBytes {
		return nil, p.errTooLarge()
	}
	in, err := p.parse(context.Background(), bytes.NewReader(raw), received)
	if err != nil {
		return nil, err
	}
	in.Original.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return in, nil
}

// counter counts and hashes what is read through it, and refuses more than max bytes.
type counter struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	max int64
}

var errOverLimit = errors.New("mail: over the size limit")

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.h.Write(b[:n])
	if c.n > c.max {
		return n, errOverLimit
	}
	return n, err
}

func (p *Parser) parse(ctx context.Context, r io.Reader, received time.Time) (in *ingest.Intake, err error) {
	cnt := &counter{r: r, h: sha256.New(), max: p.opts.MaxBytes}
	br := p.reader(&p.mailBufs, mailBufSize, cnt)
	defer p.release(&p.mailBufs, br)
	w := &walker{p: p}
	defer func() {
		if err != nil {
			for _, sp := range w.spools {
				sp.remove()
			}
		}
		if errors.Is(err, errOverLimit) {
			err = p.errTooLarge()
		}
	}()
	prefix, _ := br.Peek(8)
	if isMSG(prefix) {
		return p.parseMSG(ctx, w, br, cnt, received)
	}
	if err := skipPreamble(br); err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	first, _ := br.Peek(256)
	line := firstLine(first)
	if indent := len(line) - len(bytes.TrimLeft(line, " \t")); indent > 0 && looksLikeHeaderLine(line[indent:]) {
		// White space before the first header line (a careless export): drop it.
		_, _ = br.Discard(indent)
		w.rep.add(repairHeader)
	} else if !looksLikeHeaderLine(line) {
		return nil, ingest.Permanentf(ingest.ReasonUnparseable, "not an e-mail message: no header section")
	}
	h, err := readHeader(br, maxHeaderBytes, &w.rep)
	if err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	if !knownHeader(h) {
		return nil, ingest.Permanentf(ingest.ReasonUnparseable, "not an e-mail message: no known header field")
	}
	wctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	w.ctx = wctx
	if err := w.entity(br, h, 0); err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	// Read the rest (epilogue, or what a stopped walk left) for the size and the hash.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	orig := ingest.Content{Filename: "bericht.eml", ContentType: "message/rfc822", Size: cnt.n, SHA256: hex.EncodeToString(cnt.h.Sum(nil))}
	return p.intake(h, w, orig, received), nil
}

func firstLine(b []byte) []byte {
	for i, c := range b {
		if c == '\n' || c == '\r' {
			return b[:i]
		}
	}
	return b
}

// knownHeader reports whether a header section has a field every real mail has.
func knownHeader(h header) bool {
	for _, f := range h.fields {
		switch lowerASCII(f.Key) {
		case "from", "to", "subject", "date", "message-id", "received", "mime-version", "content-type",
			"return-path", "delivered-to", "sender", "cc", "reply-to", "in-reply-to", "x-mailer":
			return true
		}
	}
	return false
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// parseMSG reads an Outlook .msg file: it is spooled whole (the format needs random
// access), then read as a mail with its transport headers when it has them.
func (p *Parser) parseMSG(ctx context.Context, w *walker, br *bufio.Reader, cnt *counter, received time.Time) (*ingest.Intake, error) {
	sp, err := writeSpool(br, p.opts.SpoolDir, memSpoolMax, &p.scratch)
	if err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	w.spools = append(w.spools, sp)
	ra, closeRA, err := sp.readerAt()
	if err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	om, err := readMSG(ra, sp.size, p.opts.MaxBytes)
	closeRA()
	if errors.Is(err, errOutlookTooLarge) {
		return nil, ingest.Permanent(ingest.ReasonTooLarge, err)
	}
	if err != nil {
		return nil, ingest.Permanent(ingest.ReasonUnparseable, err)
	}
	w.ctx = ctx
	if err := w.outlook(om); err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	var h header
	if om.TransportHeaders != "" {
		h, _ = readHeader(bufio.NewReader(stringsReader(om.TransportHeaders)), maxHeaderBytes, nil)
	}
	h = msgHeader(h, om)
	orig := ingest.Content{Filename: "bericht.msg", ContentType: "application/vnd.ms-outlook", Size: cnt.n, SHA256: sp.sum}
	return p.intake(h, w, orig, received), nil
}
