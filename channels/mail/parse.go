// Package mail parses e-mail messages (RFC 5322 / MIME) into channel-neutral intakes. The
// IMAP, Maildir and drop-folder sources all feed it.
//
// Parsing is forgiving: a mail without From, Date or Message-ID, with an unknown charset
// or broken MIME still becomes an intake, with notes for the KCC colleague where
// something could not be used. Only input that is not a mail at all, or over the size
// limit, is refused, with a permanent error. Error texts never contain message content.
package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/instroom/instroom/ingest"
)

// Channel is the channel name of e-mail intakes.
const Channel = "email"

// Options configure the parser.
type Options struct {
	// MaxBytes is the largest message accepted (default 50 MiB).
	MaxBytes int64
}

// Parser parses mails. It is safe for concurrent use.
type Parser struct {
	maxBytes int64
	enmime   *enmime.Parser
}

// NewParser returns a mail parser; opts may be nil.
func NewParser(opts *Options) *Parser {
	p := &Parser{maxBytes: 50 << 20, enmime: enmime.NewParser(enmime.SkipMalformedParts(true), enmime.MaxStoredPartErrors(50))}
	if opts != nil && opts.MaxBytes > 0 {
		p.maxBytes = opts.MaxBytes
	}
	return p
}

// Parse implements ingest.Parser.
func (p *Parser) Parse(ctx context.Context, item *ingest.Item) (*ingest.Intake, error) {
	if item.Size > p.maxBytes {
		return nil, ingest.Permanentf(ingest.ReasonTooLarge, "mail of %d bytes is over the limit of %d bytes", item.Size, p.maxBytes)
	}
	rc, err := item.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening mail: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, p.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading mail: %w", err)
	}
	if int64(len(raw)) > p.maxBytes {
		return nil, ingest.Permanentf(ingest.ReasonTooLarge, "mail is over the limit of %d bytes", p.maxBytes)
	}
	in, err := p.ParseBytes(raw, item.ReceivedAt)
	if err != nil {
		return nil, err
	}
	in.Original.Open = item.Open
	return in, nil
}

// ParseBytes parses a whole message held in memory. The intake's Original streams from
// raw; Parse replaces it with the source's own reader.
func (p *Parser) ParseBytes(raw []byte, received time.Time) (*ingest.Intake, error) {
	if !looksLikeMail(raw) {
		return nil, ingest.Permanentf(ingest.ReasonUnparseable, "not an e-mail message: no header section")
	}
	env, err := p.enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return nil, ingest.Permanentf(ingest.ReasonUnparseable, "not a parseable MIME message")
	}
	sum := sha256.Sum256(raw)
	rawHash := hex.EncodeToString(sum[:])
	in := &ingest.Intake{
		Channel:    Channel,
		ReceivedAt: received.UTC(),
		Subject:    headerText(env.GetHeader("Subject")),
		Text:       env.Text,
		Metadata:   map[string]string{},
		Original:   ingest.BytesContent("bericht.eml", "message/rfc822", raw),
	}

	// Sender.
	from := env.GetHeader("From")
	if name, addr, ok := parseAddress(env, "From"); ok {
		in.Sender.Name, in.Sender.Address = name, addr
	} else if from != "" {
		in.Sender.Name, in.Sender.Address = salvageAddress(from)
	}
	in.Sender.Name = headerText(in.Sender.Name)
	if _, addr, ok := parseAddress(env, "Reply-To"); ok {
		in.ReplyTo = addr
	}

	// When.
	if d, err := env.Date(); err == nil && !d.IsZero() {
		if received.IsZero() || !d.After(received.Add(24*time.Hour)) {
			in.SentAt = d.UTC()
		}
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = in.SentAt
	}

	// Identity: Message-ID plus a hash of From/Date/Subject as sent, or the raw hash.
	mid := NormaliseMessageID(env.GetHeader("Message-ID"))
	if mid != "" {
		h := sha256.New()
		for _, k := range []string{"From", "Date", "Subject"} {
			h.Write([]byte(strings.TrimSpace(env.Root.Header.Get(k))))
			h.Write([]byte{0})
		}
		in.Identity = "mid:" + mid + ":" + hex.EncodeToString(h.Sum(nil))[:32]
		in.Metadata["messageId"] = mid
	} else {
		in.Identity = "raw:" + rawHash
	}
	if v := NormaliseMessageID(env.GetHeader("In-Reply-To")); v != "" {
		in.Metadata["inReplyTo"] = v
	}
	if v := strings.Join(strings.Fields(env.GetHeader("References")), " "); v != "" {
		in.Metadata["references"] = v
	}

	in.Signals = signals(env)
	in.Recipients = recipients(env)

	// Attachments: every part that is not the body text.
	seen := map[*enmime.Part]bool{}
	for _, list := range [][]*enmime.Part{env.Attachments, env.Inlines, env.OtherParts} {
		for _, part := range list {
			if seen[part] || isBodyPart(part) {
				continue
			}
			seen[part] = true
			c := ingest.BytesContent(headerText(part.FileName), part.ContentType, part.Content)
			in.Attachments = append(in.Attachments, c)
		}
	}
	for _, e := range env.Errors {
		if e.Name == enmime.ErrorCharsetConversion || e.Name == enmime.ErrorCharsetDeclaration {
			in.Notes = append(in.Notes, "De tekenset van het bericht kon niet volledig worden omgezet; controleer de tekst in het originele bericht.")
			break
		}
	}
	return in, nil
}

// isBodyPart reports whether a part is the rendered body (text or HTML) rather than a file.
func isBodyPart(p *enmime.Part) bool {
	if p.FileName != "" || p.Disposition == "attachment" {
		return false
	}
	return p.ContentType == "text/plain" || p.ContentType == "text/html"
}

var headerLine = regexp.MustCompile(`^[!-9;-~]+:`)

// looksLikeMail reports whether raw starts with an RFC 5322 header section that has at
// least one of the fields every real mail has.
func looksLikeMail(raw []byte) bool {
	if len(raw) == 0 || bytes.IndexByte(raw[:min(len(raw), 8192)], 0) >= 0 {
		return false
	}
	end := bytes.Index(raw, []byte("\n\n"))
	if e2 := bytes.Index(raw, []byte("\r\n\r\n")); e2 >= 0 && (end < 0 || e2 < end) {
		end = e2
	}
	if end < 0 {
		end = len(raw)
	}
	lines := strings.Split(strings.ReplaceAll(string(raw[:end]), "\r\n", "\n"), "\n")
	if !headerLine.MatchString(lines[0]) && !strings.HasPrefix(lines[0], "From ") {
		return false
	}
	known := 0
	for _, l := range lines {
		if i := strings.IndexByte(l, ':'); i > 0 && headerLine.MatchString(l) {
			switch strings.ToLower(l[:i]) {
			case "from", "to", "subject", "date", "message-id", "received", "mime-version", "content-type", "return-path", "delivered-to", "sender", "cc":
				known++
			}
		}
	}
	return known > 0
}

func parseAddress(env *enmime.Envelope, header string) (name, addr string, ok bool) {
	if env.GetHeader(header) == "" {
		return "", "", false
	}
	list, err := env.AddressList(header)
	if err != nil || len(list) == 0 || list[0].Address == "" {
		return "", "", false
	}
	return strings.TrimSpace(list[0].Name), strings.TrimSpace(list[0].Address), true
}

var looseAddr = regexp.MustCompile(`[^\s<>"(),;:]+@[^\s<>"(),;:]+`)

// salvageAddress takes what it can from a From header that does not parse: the first
// thing that looks like an address, and the text before it as the name.
func salvageAddress(from string) (name, addr string) {
	if a, err := netmail.ParseAddress(from); err == nil {
		return a.Name, a.Address
	}
	loc := looseAddr.FindStringIndex(from)
	if loc == nil {
		return strings.Trim(strings.TrimSpace(from), `"<>`), ""
	}
	addr = from[loc[0]:loc[1]]
	name = strings.Trim(strings.TrimSpace(from[:loc[0]]), `"<> `)
	return name, addr
}

// NormaliseMessageID trims a Message-ID header to the bare id: no angle brackets, no
// surrounding white space or comments; only the first id when there are several.
func NormaliseMessageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	} else if f := strings.Fields(v); len(f) > 0 {
		v = f[0]
	}
	v = strings.TrimSpace(v)
	if strings.ContainsAny(v, " \t\r\n") {
		return ""
	}
	return v
}

// signals derives routing signals from the headers.
func signals(env *enmime.Envelope) []string {
	var out []string
	h := func(k string) string { return strings.ToLower(strings.TrimSpace(env.GetHeader(k))) }
	if as := h("Auto-Submitted"); (as != "" && as != "no") || h("X-Autoreply") != "" || h("X-Autorespond") != "" || h("Precedence") == "auto_reply" {
		out = append(out, "auto-reply")
	}
	ct := h("Content-Type")
	from := h("From")
	if strings.Contains(ct, "multipart/report") && strings.Contains(ct, "delivery-status") ||
		strings.Contains(from, "mailer-daemon@") || strings.HasPrefix(from, "postmaster@") || strings.Contains(from, "<postmaster@") {
		out = append(out, "bounce")
	}
	if p := h("Precedence"); p == "bulk" || p == "list" || p == "junk" || h("List-Id") != "" || h("List-Unsubscribe") != "" {
		out = append(out, "bulk")
	}
	return out
}

func recipients(env *enmime.Envelope) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range []string{"To", "Cc", "Delivered-To", "X-Original-To"} {
		if env.GetHeader(k) == "" {
			continue
		}
		list, err := enmime.ParseAddressList(env.GetHeader(k))
		if err != nil {
			continue
		}
		for _, a := range list {
			addr := strings.ToLower(a.Address)
			if addr != "" && !seen[addr] {
				seen[addr] = true
				out = append(out, addr)
			}
		}
	}
	return out
}

// headerText returns a header value as valid UTF-8. Raw 8-bit header bytes that are not
// UTF-8 are read as Windows-1252, the charset such mail almost always uses.
func headerText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, err := charmap.Windows1252.NewDecoder().String(s)
	if err != nil {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return out
}
