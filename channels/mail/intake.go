package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	netmail "net/mail"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/instroom/instroom/ingest"
)

// intake builds the channel-neutral intake from a mail's top-level header and what the
// walker collected.
func (p *Parser) intake(h header, w *walker, orig ingest.Content, received time.Time) *ingest.Intake {
	in := &ingest.Intake{
		Channel:    Channel,
		ReceivedAt: received.UTC(),
		Subject:    decodeHeaderText(h.Get("Subject"), &w.rep),
		Text:       w.bodyText(),
		Metadata:   map[string]string{},
		Original:   orig,
	}
	in.Sender.Name, in.Sender.Address = sender(h, &w.rep)
	if _, addr := firstAddress(h.Get("Reply-To"), &w.rep); addr != "" {
		in.ReplyTo = addr
	}
	if d, ok := parseDate(h.Get("Date")); ok {
		if received.IsZero() || !d.After(received.Add(24*time.Hour)) {
			in.SentAt = d.UTC()
		}
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = in.SentAt
	}
	// Identity: Message-ID plus a hash of From/Date/Subject as sent, or the raw hash.
	mid := NormaliseMessageID(h.Get("Message-ID"))
	if mid != "" {
		sum := sha256.New()
		for _, k := range []string{"From", "Date", "Subject"} {
			sum.Write([]byte(strings.TrimSpace(h.Get(k))))
			sum.Write([]byte{0})
		}
		in.Identity = "mid:" + mid + ":" + hex.EncodeToString(sum.Sum(nil))[:32]
		in.Metadata["messageId"] = mid
		in.LinkKey = ingest.ContactKey(Channel, mid)
	} else {
		in.Identity = "raw:" + orig.SHA256
	}
	irt := NormaliseMessageID(h.Get("In-Reply-To"))
	if irt != "" {
		in.Metadata["inReplyTo"] = irt
	}
	refs := strings.Fields(h.Get("References"))
	if len(refs) > 0 {
		in.Metadata["references"] = strings.Join(refs, " ")
	}
	in.Links = links(irt, refs, mid)
	in.Signals = signals(h)
	in.Recipients = recipients(h, &w.rep)
	in.Attachments = w.atts
	in.Notes = w.rep.notes()
	spools := w.spools
	in.Cleanup = func() {
		for _, sp := range spools {
			sp.remove()
		}
	}
	return in
}

// links are the contact-index keys of the messages this one answers: In-Reply-To first,
// then References from the newest.
func links(irt string, refs []string, self string) []string {
	var out []string
	seen := map[string]bool{self: true, "": true}
	add := func(id string) {
		if id = NormaliseMessageID(id); !seen[id] && len(out) < 10 {
			seen[id] = true
			out = append(out, ingest.ContactKey(Channel, id))
		}
	}
	add(irt)
	for i := len(refs) - 1; i >= 0; i-- {
		add(refs[i])
	}
	return out
}

// sender returns the name and address of the From header, salvaging what it can from
// one that does not parse.
func sender(h header, r *repairs) (name, addr string) {
	raw := h.Get("From")
	if raw == "" {
		raw = h.Get("Sender")
	}
	if raw == "" {
		return "", ""
	}
	return firstAddress(raw, r)
}

var looseAddr = regexp.MustCompile(`[^\s<>"(),;:]+@[^\s<>"(),;:]+`)

// firstAddress parses the first address of an address-list header.
func firstAddress(raw string, r *repairs) (name, addr string) {
	if strings.TrimSpace(raw) == "" {
		return "", ""
	}
	if list, err := addressParser(r).ParseList(raw); err == nil && len(list) > 0 && list[0].Address != "" {
		name = strings.TrimSpace(list[0].Name)
		if strings.Contains(name, "=?") {
			name = decodeHeaderText(name, r) // a broken encoded word net/mail left as it was
		}
		return name, strings.TrimSpace(list[0].Address)
	}
	text := decodeHeaderText(raw, r)
	if a, err := netmail.ParseAddress(text); err == nil {
		return a.Name, a.Address
	}
	loc := looseAddr.FindStringIndex(text)
	if loc == nil {
		return strings.Trim(strings.TrimSpace(text), `"<>`), ""
	}
	return strings.Trim(strings.TrimSpace(text[:loc[0]]), `"<> `), text[loc[0]:loc[1]]
}

// addressParser decodes RFC 2047 words in display names with the forgiving decoder.
func addressParser(r *repairs) *netmail.AddressParser {
	return &netmail.AddressParser{WordDecoder: wordDecoder(r)}
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

// dateLayouts are the broken Date formats seen in real mail, tried after net/mail's.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 02 Jan 2006 15:04:05 GMT-0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05Z07:00",
	"Monday, January 2, 2006 3:04 PM",
}

// rfc5322Date is the date of almost every mail, and one of net/mail.ParseDate's layouts.
const rfc5322Date = "Mon, 2 Jan 2006 15:04:05 -0700"

func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	// The usual RFC 5322 form first: net/mail tries a dozen layouts before this one,
	// with an error allocated for each; it would return the same time.
	if d, err := time.Parse(rfc5322Date, v); err == nil {
		return d, true
	}
	if d, err := netmail.ParseDate(v); err == nil {
		return d, true
	}
	v = strings.Join(strings.Fields(v), " ")
	for _, l := range dateLayouts {
		if d, err := time.Parse(l, v); err == nil {
			return d, true
		}
	}
	return time.Time{}, false
}

// signals derives routing signals from the headers.
func signals(h header) []string {
	var out []string
	get := func(k string) string { return strings.ToLower(strings.TrimSpace(h.Get(k))) }
	if as := get("Auto-Submitted"); (as != "" && as != "no") || get("X-Autoreply") != "" || get("X-Autorespond") != "" || get("Precedence") == "auto_reply" {
		out = append(out, "auto-reply")
	}
	ct, from := get("Content-Type"), get("From")
	if strings.Contains(ct, "multipart/report") && strings.Contains(ct, "delivery-status") ||
		strings.Contains(from, "mailer-daemon@") || strings.HasPrefix(from, "postmaster@") || strings.Contains(from, "<postmaster@") {
		out = append(out, "bounce")
	}
	if pr := get("Precedence"); pr == "bulk" || pr == "list" || pr == "junk" || get("List-Id") != "" || get("List-Unsubscribe") != "" {
		out = append(out, "bulk")
	}
	return out
}

func recipients(h header, r *repairs) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range []string{"To", "Cc", "Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(k) {
			list, err := addressParser(r).ParseList(v)
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
	}
	return out
}

// msgHeader completes a .msg file's header (its transport headers, when it has them)
// with the message's own properties.
func msgHeader(h header, om *outlookMessage) header {
	set := func(k, v string) {
		if v != "" && !h.Has(k) {
			h.fields = append(h.fields, field{Key: k, Value: v})
		}
	}
	from := om.FromAddress
	if om.FromName != "" {
		from = (&netmail.Address{Name: om.FromName, Address: om.FromAddress}).String()
	}
	set("From", from)
	set("To", strings.Join(om.To, ", "))
	set("Subject", om.Subject)
	if !om.Date.IsZero() {
		set("Date", om.Date.Format(time.RFC1123Z))
	}
	if om.MessageID != "" {
		set("Message-ID", "<"+om.MessageID+">")
	}
	if om.InReplyTo != "" {
		set("In-Reply-To", "<"+strings.Trim(om.InReplyTo, "<>")+">")
	}
	return h
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// readerAt opens the spooled content for random access.
func (sp *spool) readerAt() (io.ReaderAt, func(), error) {
	if sp.file == "" {
		return strings.NewReader(string(sp.mem)), func() {}, nil
	}
	f, err := os.Open(sp.file)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// wordDecoder decodes RFC 2047 words in address display names, with every charset the
// parser knows.
func wordDecoder(r *repairs) *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: func(cs string, in io.Reader) (io.Reader, error) {
		enc := lookupCharset(cs)
		if enc == nil {
			r.add(repairCharsetUnknown)
			return in, nil
		}
		return enc.NewDecoder().Reader(in), nil
	}}
}
