package mail

// Outlook containers: TNEF (winmail.dat, tnef.go) and .msg files (msg.go) both carry a
// message as MAPI properties. This file holds what the two share: the decoded message,
// the property bag each reader fills, and the conversion from properties to fields.
//
// Not read: a body that exists only as compressed RTF (PR_RTF_COMPRESSED), attachments
// by reference or as OLE objects, named and multi-valued properties. An encrypted or
// signed message keeps its smime.p7m as an ordinary attachment.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"mime"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
)

// outlookMessage is what an Outlook container (TNEF or .msg) holds, already decoded to UTF-8.
type outlookMessage struct {
	TransportHeaders string    // the original RFC 5322 header block when present (PR_TRANSPORT_MESSAGE_HEADERS), else ""
	Subject          string    // PR_SUBJECT
	FromName         string    // PR_SENDER_NAME, else PR_SENT_REPRESENTING_NAME
	FromAddress      string    // SMTP address when known; never an Exchange X.500 DN
	To               []string  // SMTP addresses of the To and Cc recipients, when known
	Date             time.Time // PR_CLIENT_SUBMIT_TIME, else PR_MESSAGE_DELIVERY_TIME; zero if absent
	MessageID        string    // PR_INTERNET_MESSAGE_ID without angle brackets
	InReplyTo        string    // PR_IN_REPLY_TO_ID without angle brackets
	Text             string    // plain body (PR_BODY)
	HTML             string    // HTML body (PR_HTML / PR_BODY_HTML)
	Attachments      []outlookAttachment
}

// outlookAttachment is one attachment of an outlookMessage.
type outlookAttachment struct {
	Name        string          // long file name, else short file name, else display name; as given, never sanitised here
	ContentType string          // PR_ATTACH_MIME_TAG, else derived from the extension, else application/octet-stream
	Data        []byte          // the content; empty for an embedded message
	Embedded    *outlookMessage // an attached message, when it is one
}

// MAPI property ids ([MS-OXPROPS]) that the readers use.
const (
	pidSubject              = 0x0037
	pidClientSubmitTime     = 0x0039
	pidSentReprName         = 0x0042
	pidSentReprAddrType     = 0x0064
	pidSentReprEmail        = 0x0065
	pidTransportHeaders     = 0x007D
	pidRecipientType        = 0x0C15
	pidSenderName           = 0x0C1A
	pidSenderAddrType       = 0x0C1E
	pidSenderEmail          = 0x0C1F
	pidDeliveryTime         = 0x0E06
	pidBody                 = 0x1000
	pidHTML                 = 0x1013
	pidInternetMessageID    = 0x1035
	pidInReplyTo            = 0x1042
	pidDisplayName          = 0x3001
	pidAddrType             = 0x3002
	pidEmailAddress         = 0x3003
	pidAttachData           = 0x3701
	pidAttachFilename       = 0x3704
	pidAttachMethod         = 0x3705
	pidAttachLongFilename   = 0x3707
	pidAttachMimeTag        = 0x370E
	pidSMTPAddress          = 0x39FE
	pidInternetCPID         = 0x3FDE
	pidMessageCodepage      = 0x3FFD
	pidSenderSMTPAddress    = 0x5D01
	pidSentReprSMTPAddress  = 0x5D02
	attachMethodEmbeddedMsg = 5
	recipientTypeTo         = 1
	recipientTypeCc         = 2
)

// MAPI property types.
const (
	ptInt16   = 0x0002
	ptInt32   = 0x0003
	ptBoolean = 0x000B
	ptObject  = 0x000D
	ptString8 = 0x001E
	ptUnicode = 0x001F
	ptSysTime = 0x0040
	ptBinary  = 0x0102
	ptMulti   = 0x1000
)

// outlookMessageType is the content type of an attached message without a MIME tag.
const outlookMessageType = "application/vnd.ms-outlook"

// maxOutlookDepth bounds how deep attached messages may nest.
const maxOutlookDepth = 8

// propBag holds MAPI properties by tag (id<<16 | type). Values are the raw bytes: the
// little-endian value of fixed-size types, the content of strings and binaries.
type propBag map[uint32][]byte

func mapiTag(id, typ uint16) uint32 { return uint32(id)<<16 | uint32(typ) }

// str returns a string property as UTF-8, from PT_UNICODE or else from PT_STRING8 in
// the codepage cp.
func (p propBag) str(id uint16, cp encoding.Encoding) string {
	if b, ok := p[mapiTag(id, ptUnicode)]; ok {
		return mapiUTF16(b)
	}
	if b, ok := p[mapiTag(id, ptString8)]; ok {
		return mapiString8(b, cp)
	}
	return ""
}

// int32 returns a PT_LONG (or PT_SHORT) property.
func (p propBag) int32(id uint16) (int32, bool) {
	if b := p[mapiTag(id, ptInt32)]; len(b) >= 4 {
		return int32(binary.LittleEndian.Uint32(b)), true
	}
	if b := p[mapiTag(id, ptInt16)]; len(b) >= 2 {
		return int32(int16(binary.LittleEndian.Uint16(b))), true
	}
	return 0, false
}

// time returns a PT_SYSTIME property, zero when absent or out of range.
func (p propBag) time(id uint16) time.Time {
	b := p[mapiTag(id, ptSysTime)]
	if len(b) < 8 {
		return time.Time{}
	}
	return mapiFiletime(binary.LittleEndian.Uint64(b))
}

// codepage returns the encoding of the PT_STRING8 properties: PR_MESSAGE_CODEPAGE, else
// PR_INTERNET_CPID, else def.
func (p propBag) codepage(def encoding.Encoding, ids ...uint16) encoding.Encoding {
	for _, id := range ids {
		if cp, ok := p.int32(id); ok {
			if e := mapiCodepage(cp); e != nil {
				return e
			}
		}
	}
	return def
}

// mapiFiletime converts a Windows FILETIME (100 ns ticks since 1601) to UTC; zero values
// and values outside years 1601–9999 give the zero time.
func mapiFiletime(ft uint64) time.Time {
	const ticksTo1970 = 116444736000000000
	const max = 2650467743999999999 // 9999-12-31
	if ft == 0 || ft > max {
		return time.Time{}
	}
	secs := (int64(ft) - ticksTo1970) / 1e7
	nsec := (int64(ft) - ticksTo1970) % 1e7 * 100
	return time.Unix(secs, nsec).UTC()
}

// mapiUTF16 decodes UTF-16LE up to the first NUL; unpaired surrogates become U+FFFD.
func mapiUTF16(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// mapiString8 decodes an 8-bit string up to the first NUL in the codepage cp.
func mapiString8(b []byte, cp encoding.Encoding) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if cp == nil {
		cp = charmap.Windows1252
	}
	out, err := cp.NewDecoder().Bytes(b)
	if err != nil {
		out = b
	}
	if !utf8.Valid(out) {
		return strings.ToValidUTF8(string(out), "\uFFFD")
	}
	return string(out)
}

// mapiCodepage maps a Windows codepage number to its encoding; nil when unknown.
func mapiCodepage(cp int32) encoding.Encoding {
	switch {
	case cp == 437:
		return charmap.CodePage437
	case cp == 850:
		return charmap.CodePage850
	case cp == 858:
		return charmap.CodePage858
	case cp == 20127:
		return charmap.Windows1252 // US-ASCII, read leniently
	case cp == 28605:
		return charmap.ISO8859_15
	case cp >= 28591 && cp <= 28599, cp == 28603:
		return htmlEncoding("iso-8859-" + strconv.Itoa(int(cp-28590)))
	case cp >= 1250 && cp <= 1258, cp == 874:
		return htmlEncoding("windows-" + strconv.Itoa(int(cp)))
	}
	labels := [...]struct {
		cp    int32
		label string
	}{
		{932, "shift_jis"}, {936, "gbk"}, {949, "euc-kr"}, {950, "big5"}, {866, "ibm866"},
		{20866, "koi8-r"}, {21866, "koi8-u"}, {50220, "iso-2022-jp"}, {51932, "euc-jp"},
		{54936, "gb18030"}, {65001, "utf-8"},
	}
	for _, l := range labels {
		if l.cp == cp {
			return htmlEncoding(l.label)
		}
	}
	return nil
}

func htmlEncoding(label string) encoding.Encoding {
	e, err := htmlindex.Get(label)
	if err != nil {
		return nil
	}
	return e
}

// fillMessage sets the header and body fields of m from the message properties p.
// cp is the encoding of its PT_STRING8 properties.
func fillMessage(m *outlookMessage, p propBag, cp encoding.Encoding) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&m.TransportHeaders, p.str(pidTransportHeaders, cp))
	set(&m.Subject, p.str(pidSubject, cp))
	set(&m.FromName, mapiFirst(p.str(pidSenderName, cp), p.str(pidSentReprName, cp)))
	set(&m.FromAddress, senderSMTP(p, cp))
	if t := mapiFirstTime(p.time(pidClientSubmitTime), p.time(pidDeliveryTime)); !t.IsZero() {
		m.Date = t
	}
	set(&m.MessageID, trimMsgID(p.str(pidInternetMessageID, cp)))
	set(&m.InReplyTo, trimMsgID(p.str(pidInReplyTo, cp)))
	set(&m.Text, p.str(pidBody, cp))
	if b, ok := p[mapiTag(pidHTML, ptBinary)]; ok {
		m.HTML = mapiString8(b, p.codepage(cp, pidInternetCPID, pidMessageCodepage))
	} else {
		set(&m.HTML, p.str(pidHTML, cp))
	}
}

// senderSMTP returns the sender's SMTP address: PR_SENDER_SMTP_ADDRESS,
// PR_SENT_REPRESENTING_SMTP_ADDRESS, or an e-mail address whose address type is SMTP.
func senderSMTP(p propBag, cp encoding.Encoding) string {
	for _, id := range []uint16{pidSenderSMTPAddress, pidSentReprSMTPAddress} {
		if a := mapiSMTP(p.str(id, cp)); a != "" {
			return a
		}
	}
	pairs := [][2]uint16{{pidSenderAddrType, pidSenderEmail}, {pidSentReprAddrType, pidSentReprEmail}}
	for _, pair := range pairs {
		if strings.EqualFold(strings.TrimSpace(p.str(pair[0], cp)), "SMTP") {
			if a := mapiSMTP(p.str(pair[1], cp)); a != "" {
				return a
			}
		}
	}
	return ""
}

// recipientSMTP returns the SMTP address of a recipient row, and whether it is a To or
// Cc recipient (a row without a recipient type counts as To).
func recipientSMTP(p propBag, cp encoding.Encoding) (string, bool) {
	if t, ok := p.int32(pidRecipientType); ok && t != recipientTypeTo && t != recipientTypeCc {
		return "", false
	}
	if a := mapiSMTP(p.str(pidSMTPAddress, cp)); a != "" {
		return a, true
	}
	if strings.EqualFold(strings.TrimSpace(p.str(pidAddrType, cp)), "SMTP") {
		a := mapiSMTP(p.str(pidEmailAddress, cp))
		return a, a != ""
	}
	return "", false
}

// mapiSMTP returns a trimmed address, or "" when it is not an SMTP address (an
// Exchange DN such as /O=ORG/OU=…/CN=…, or no @ at all).
func mapiSMTP(a string) string {
	a = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(a), "SMTP:"))
	a = strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">")
	if a == "" || strings.HasPrefix(a, "/") || !strings.Contains(a, "@") || strings.ContainsAny(a, " \t\r\n") {
		return ""
	}
	return a
}

func mapiFirst(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func mapiFirstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// trimMsgID strips white space and angle brackets from a message id.
func trimMsgID(s string) string {
	s = strings.TrimSpace(s)
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">"))
}

// attachmentMeta returns an attachment's name and content type from its properties.
func attachmentMeta(p propBag, cp encoding.Encoding) (name, contentType string) {
	name = mapiFirst(p.str(pidAttachLongFilename, cp), p.str(pidAttachFilename, cp), p.str(pidDisplayName, cp))
	contentType = strings.TrimSpace(p.str(pidAttachMimeTag, cp))
	if contentType == "" || !utf8.ValidString(contentType) {
		contentType = attachmentType(name)
	}
	return name, contentType
}

// attachmentType derives a MIME type from a file name's extension.
func attachmentType(name string) string {
	if ext := path.Ext(strings.ReplaceAll(name, `\`, "/")); ext != "" {
		if t := mime.TypeByExtension(strings.ToLower(ext)); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}

// Errors of the Outlook readers: content over the caller's limit, and input so
// malformed that a reader (or a library under it) panicked.
var (
	errOutlookTooLarge = errors.New("content over the size limit")
	errOutlookPanic    = errors.New("malformed input")
)

// propCost is what a kept property is counted as: the memory of its map entry.
const propCost = 48

// outlookBudget counts decoded bytes against a limit.
type outlookBudget struct{ left int64 }

// take reserves n bytes, or fails when that would go over the limit.
func (b *outlookBudget) take(n int64) error {
	if n < 0 || n > b.left {
		return errOutlookTooLarge
	}
	b.left -= n
	return nil
}
