package mail

// TNEF (winmail.dat) per [MS-OXTNEF]: a signature, a legacy key, then attributes
// (level, id, length, data, checksum). Message attributes come first; each attachment's
// attributes start with attAttachRendData. attMsgProps and attAttachment carry MAPI
// properties, attRecipTable the recipient rows, and an attached message is a nested TNEF
// stream in PR_ATTACH_DATA_OBJ.
//
// No Go TNEF library could be used (github.com/teamwork/tnef is not served by the module
// proxy), so the format is read here, from a byte slice bounded by maxBytes.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

const tnefSignature = 0x223E9F78

// TNEF attribute levels and ids (the low 16 bits of the attribute tag; the high 16 bits
// give the attribute type, which the reader does not need).
const (
	tnefLevelMessage    = 0x01
	tnefLevelAttachment = 0x02

	attSubject        = 0x8004
	attDateSent       = 0x8005
	attDateRecd       = 0x8006
	attBody           = 0x800C
	attAttachData     = 0x800F
	attAttachTitle    = 0x8010
	attAttachRendData = 0x9002
	attMsgProps       = 0x9003
	attRecipTable     = 0x9004
	attAttachment     = 0x9005
	attOemCodepage    = 0x9007
)

// iidIMessage is the interface id that precedes an attached message in PR_ATTACH_DATA_OBJ.
var iidIMessage = [16]byte{0x07, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46}

// readTNEF reads a TNEF stream (winmail.dat). maxBytes bounds what is read.
func readTNEF(r io.Reader, maxBytes int64) (m *outlookMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			m, err = nil, fmt.Errorf("tnef: %w", errOutlookPanic)
		}
	}()
	if maxBytes <= 0 {
		return nil, fmt.Errorf("tnef: %w", errOutlookTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tnef: reading: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("tnef: %w", errOutlookTooLarge)
	}
	m, err = parseTNEF(data, nil, 0, &outlookBudget{left: maxBytes})
	if err != nil {
		return nil, fmt.Errorf("tnef: %w", err)
	}
	return m, nil
}

// tnefAttach is an attachment as collected from its attributes.
type tnefAttach struct {
	title []byte  // attAttachTitle
	data  []byte  // attAttachData
	props propBag // attAttachment
}

// tnefMessage is a message as collected from its attributes, decoded once the stream
// has been read (the codepage may come late).
type tnefMessage struct {
	subject, body []byte
	date          time.Time
	oemCP         encoding.Encoding
	props         propBag
	recips        []propBag
	attach        []*tnefAttach
	budget        *outlookBudget
}

// parseTNEF parses one TNEF stream; cp is the codepage of the enclosing message (nil
// at the top), depth the nesting of attached messages. Recipients, attachments and
// properties are counted against b, so that tiny ones cannot add up to a lot of memory.
func parseTNEF(data []byte, cp encoding.Encoding, depth int, b *outlookBudget) (*outlookMessage, error) {
	if depth > maxOutlookDepth {
		return nil, errors.New("attached messages nested too deep")
	}
	c := &leReader{b: data}
	if c.u32() != tnefSignature || c.err != nil {
		return nil, errors.New("not a tnef stream")
	}
	if c.u16(); c.err != nil { // legacy key
		return nil, errors.New("truncated header")
	}
	t := &tnefMessage{props: propBag{}, budget: b}
	for c.err == nil && len(c.b) > 0 {
		if bytes.Count(c.b, []byte{0}) == len(c.b) {
			break // zero padding after the last attribute
		}
		level := c.u8()
		id := c.u32()
		val := c.bytes(c.u32())
		c.u16() // checksum, not verified: a damaged checksum should not cost the content
		if c.err != nil {
			return nil, errors.New("truncated attribute")
		}
		var err error
		switch level {
		case tnefLevelMessage:
			err = t.messageAttr(uint16(id), val)
		case tnefLevelAttachment:
			err = t.attachmentAttr(uint16(id), val)
		default:
			err = errors.New("bad attribute level")
		}
		if err != nil {
			return nil, err
		}
	}
	return t.decode(cp, depth)
}

func (t *tnefMessage) messageAttr(id uint16, val []byte) error {
	switch id {
	case attSubject:
		t.subject = val
	case attBody:
		t.body = val
	case attDateSent:
		t.date = tnefDate(val)
	case attDateRecd:
		if t.date.IsZero() {
			t.date = tnefDate(val)
		}
	case attOemCodepage:
		if len(val) >= 4 {
			t.oemCP = mapiCodepage(int32(binary.LittleEndian.Uint32(val)))
		}
	case attMsgProps:
		p, err := parseMAPIProps(&leReader{b: val}, t.budget)
		if err != nil {
			return fmt.Errorf("reading message properties: %w", err)
		}
		for k, v := range p {
			t.props[k] = v
		}
	case attRecipTable:
		c := &leReader{b: val}
		n := c.count(4)
		for i := 0; i < n && c.err == nil; i++ {
			p, err := parseMAPIProps(c, t.budget)
			if err == nil {
				err = t.budget.take(64)
			}
			if err != nil {
				return fmt.Errorf("reading recipients: %w", err)
			}
			t.recips = append(t.recips, p)
		}
		if c.err != nil {
			return errors.New("reading recipients: truncated")
		}
	}
	return nil
}

func (t *tnefMessage) attachmentAttr(id uint16, val []byte) error {
	if id == attAttachRendData || len(t.attach) == 0 {
		if err := t.budget.take(128); err != nil {
			return fmt.Errorf("reading attachments: %w", err)
		}
		t.attach = append(t.attach, &tnefAttach{props: propBag{}})
	}
	a := t.attach[len(t.attach)-1]
	switch id {
	case attAttachTitle:
		a.title = val
	case attAttachData:
		a.data = val
	case attAttachment:
		p, err := parseMAPIProps(&leReader{b: val}, t.budget)
		if err != nil {
			return fmt.Errorf("reading attachment properties: %w", err)
		}
		for k, v := range p {
			a.props[k] = v
		}
	}
	return nil
}

// decode turns the collected attributes into an outlookMessage.
func (t *tnefMessage) decode(parentCP encoding.Encoding, depth int) (*outlookMessage, error) {
	cp := t.oemCP
	if cp == nil {
		cp = t.props.codepage(parentCP, pidMessageCodepage, pidInternetCPID)
	}
	if cp == nil {
		cp = charmap.Windows1252
	}
	m := &outlookMessage{
		Subject: mapiString8(t.subject, cp),
		Text:    mapiString8(t.body, cp),
		Date:    t.date,
	}
	fillMessage(m, t.props, cp)
	for _, r := range t.recips {
		if a, ok := recipientSMTP(r, cp); ok {
			m.To = append(m.To, a)
		}
	}
	for _, a := range t.attach {
		att, err := a.decode(cp, depth, t.budget)
		if err != nil {
			return nil, err
		}
		if att != nil {
			m.Attachments = append(m.Attachments, *att)
		}
	}
	return m, nil
}

// decode turns an attachment's attributes into an outlookAttachment; nil when it has
// no content (attachments by reference, OLE objects).
func (a *tnefAttach) decode(cp encoding.Encoding, depth int, b *outlookBudget) (*outlookAttachment, error) {
	if _, ok := a.props[mapiTag(pidAttachFilename, ptString8)]; !ok && len(a.title) > 0 {
		a.props[mapiTag(pidAttachFilename, ptString8)] = a.title
	}
	name, ct := attachmentMeta(a.props, cp)
	out := &outlookAttachment{Name: name, ContentType: ct, Data: a.data}
	if b, ok := a.props[mapiTag(pidAttachData, ptBinary)]; ok && len(out.Data) == 0 {
		out.Data = b
	}
	obj, ok := a.props[mapiTag(pidAttachData, ptObject)]
	if method, _ := a.props.int32(pidAttachMethod); !ok && method == attachMethodEmbeddedMsg {
		obj, ok = out.Data, true
	}
	if ok {
		obj = bytes.TrimPrefix(obj, iidIMessage[:])
		if len(obj) >= 4 && binary.LittleEndian.Uint32(obj) == tnefSignature {
			em, err := parseTNEF(obj, cp, depth+1, b)
			if err != nil {
				return nil, fmt.Errorf("reading attached message: %w", err)
			}
			out.Embedded, out.Data = em, nil
			if a.props.str(pidAttachMimeTag, cp) == "" {
				out.ContentType = outlookMessageType
			}
		}
	}
	if len(out.Data) == 0 && out.Embedded == nil {
		return nil, nil
	}
	return out, nil
}

// tnefDate decodes an attDate value: year, month, day, hour, minute, second and day of
// week as 16-bit integers, in UTC.
func tnefDate(b []byte) time.Time {
	if len(b) < 12 {
		return time.Time{}
	}
	v := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	y, mo, d, h, mi, s := v(0), v(1), v(2), v(3), v(4), v(5)
	if y < 1601 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
}

// parseMAPIProps reads a counted list of MAPI properties (attMsgProps, attAttachment, a
// recipient row), counting each kept one against b. Named and multi-valued properties
// are skipped.
func parseMAPIProps(c *leReader, b *outlookBudget) (propBag, error) {
	p := propBag{}
	n := c.count(4)
	for i := 0; i < n && c.err == nil; i++ {
		typ, id := c.u16(), c.u16()
		if id >= 0x8000 { // named property: GUID, kind, then an id or a name
			c.bytes(16)
			if c.u32() == 0 {
				c.u32()
			} else {
				c.padded(c.u32())
			}
		}
		base, multi := typ&^ptMulti, typ&ptMulti != 0
		size := mapiFixedSize(base)
		variable := base == ptString8 || base == ptUnicode || base == ptBinary || base == ptObject
		if size < 0 && !variable {
			return nil, errors.New("unknown property type")
		}
		values := 1
		if multi || variable {
			values = c.count(4)
		}
		for v := 0; v < values && c.err == nil; v++ {
			var val []byte
			if variable {
				val = c.padded(c.u32())
			} else {
				val = c.bytes(uint32(size))
			}
			if v == 0 && !multi && id < 0x8000 {
				if err := b.take(propCost); err != nil {
					return nil, err
				}
				p[mapiTag(id, base)] = val
			}
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	return p, nil
}

// mapiFixedSize is the encoded size of a fixed-size property value in TNEF (2-byte
// values are padded to 4); -1 for variable-size or unknown types.
func mapiFixedSize(typ uint16) int {
	switch typ {
	case ptInt16, ptBoolean, ptInt32, 0x0004, 0x000A: // I2, BOOLEAN, LONG, R4, ERROR
		return 4
	case 0x0005, 0x0006, 0x0007, 0x0014, ptSysTime: // R8, CURRENCY, APPTIME, I8, SYSTIME
		return 8
	case 0x0048: // CLSID
		return 16
	case 0x0001: // NULL
		return 0
	}
	return -1
}
