package mail

// Outlook .msg files per [MS-OXMSG]: a compound file (CFB) whose root storage is the
// message. Fixed-size properties sit in the stream __properties_version1.0, each other
// property in a stream __substg1.0_IIIITTTT (id, type). Recipients and attachments are
// sub-storages __recip_version1.0_#N and __attach_version1.0_#N; an attached message is
// the sub-storage __substg1.0_3701000D of its attachment.
//
// The compound file is read with github.com/richardlehane/mscfb; the MAPI layer is ours.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/richardlehane/mscfb"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// cfbMagic starts every compound file.
var cfbMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Lengths of the header of __properties_version1.0 per storage kind, and limits.
const (
	msgHeaderTop      = 32
	msgHeaderEmbedded = 24
	msgHeaderOther    = 8
	msgChunk          = 32 << 10 // bytes read from a stream at a time
	msgPropsStream    = "__properties_version1.0"
	msgEmbeddedName   = "__substg1.0_3701000D"
	msgRecipPrefix    = "__recip_version1.0_#"
	msgAttachPrefix   = "__attach_version1.0_#"
	msgStreamPrefix   = "__substg1.0_"
)

// errMSGNotMessage is returned for a compound file that is not an Outlook message.
var errMSGNotMessage = errors.New("msg: a compound file that is not an Outlook message")

// isMSG reports whether prefix (the first bytes of a file) starts with the CFB magic.
func isMSG(prefix []byte) bool {
	return bytes.HasPrefix(prefix, cfbMagic)
}

// readMSG reads an Outlook .msg file. maxBytes bounds the total decoded content; over it → error.
func readMSG(r io.ReaderAt, size int64, maxBytes int64) (m *outlookMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			m, err = nil, fmt.Errorf("msg: %w", errOutlookPanic)
		}
	}()
	magic := make([]byte, len(cfbMagic))
	if size < 512 {
		return nil, errors.New("msg: not a compound file")
	}
	if _, err := r.ReadAt(magic, 0); err != nil || !isMSG(magic) {
		return nil, errors.New("msg: not a compound file")
	}
	// mscfb keeps about three bytes per byte of directory it reads: cap what it may read.
	cr := &cappedReaderAt{r: io.NewSectionReader(r, 0, size), left: maxBytes/4 + 4096}
	doc, err := mscfb.New(cr)
	if cr.over {
		return nil, fmt.Errorf("msg: %w", errOutlookTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("msg: reading compound file: %w", err)
	}
	cr.left = math.MaxInt64 // from here on the budget bounds what is read
	tree := cfbTree(doc)
	if _, ok := tree.streams[msgPropsStream]; !ok {
		// A compound file without a message property stream is another Office file
		// (a Word .doc, an Excel .xls), not an Outlook message.
		return nil, errMSGNotMessage
	}
	mr := &msgReader{budget: outlookBudget{left: maxBytes}}
	m, err = mr.message(tree, msgHeaderTop, charmap.Windows1252, 0)
	if err != nil {
		return nil, fmt.Errorf("msg: %w", err)
	}
	return m, nil
}

// cappedReaderAt fails every read once more than left bytes would have been read.
type cappedReaderAt struct {
	r    io.ReaderAt
	left int64
	over bool
}

func (c *cappedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if int64(len(p)) > c.left {
		c.over = true
		return 0, errOutlookTooLarge
	}
	c.left -= int64(len(p))
	return c.r.ReadAt(p, off)
}

// cfbStorage is a storage of the compound file with its streams and sub-storages.
type cfbStorage struct {
	streams  map[string]*mscfb.File
	children map[string]*cfbStorage
}

func newCFBStorage() *cfbStorage {
	return &cfbStorage{streams: map[string]*mscfb.File{}, children: map[string]*cfbStorage{}}
}

// cfbTree arranges the directory entries of doc as a tree. Entries deeper than any
// message the reader accepts are left out.
func cfbTree(doc *mscfb.Reader) *cfbStorage {
	root := newCFBStorage()
	for _, f := range doc.File {
		if len(f.Path) > 2*maxOutlookDepth+2 {
			continue
		}
		s := root
		for _, name := range f.Path {
			s = s.child(name)
		}
		if f.FileInfo().IsDir() {
			s.child(f.Name)
		} else {
			s.streams[f.Name] = f
		}
	}
	return root
}

func (s *cfbStorage) child(name string) *cfbStorage {
	c, ok := s.children[name]
	if !ok {
		c = newCFBStorage()
		s.children[name] = c
	}
	return c
}

// named returns the sub-storages whose names start with prefix, in name order.
func (s *cfbStorage) named(prefix string) []*cfbStorage {
	var names []string
	for n := range s.children {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]*cfbStorage, len(names))
	for i, n := range names {
		out[i] = s.children[n]
	}
	return out
}

// Variable-size properties read per storage kind; other streams are not read.
var (
	msgWantMessage = []uint16{pidSubject, pidSentReprName, pidSentReprAddrType, pidSentReprEmail,
		pidTransportHeaders, pidSenderName, pidSenderAddrType, pidSenderEmail, pidBody, pidHTML,
		pidInternetMessageID, pidInReplyTo, pidSenderSMTPAddress, pidSentReprSMTPAddress}
	msgWantRecipient  = []uint16{pidSMTPAddress, pidAddrType, pidEmailAddress}
	msgWantAttachment = []uint16{pidAttachData, pidAttachFilename, pidAttachLongFilename, pidAttachMimeTag, pidDisplayName}
)

// msgReader reads the storages of one .msg file against one budget.
type msgReader struct {
	budget outlookBudget
}

// message reads a message storage; headerLen is the length of the header of its
// property stream, parentCP the codepage of the enclosing message.
func (mr *msgReader) message(s *cfbStorage, headerLen int, parentCP encoding.Encoding, depth int) (*outlookMessage, error) {
	if depth > maxOutlookDepth {
		return nil, errors.New("attached messages nested too deep")
	}
	p, err := mr.props(s, headerLen, msgWantMessage)
	if err != nil {
		return nil, err
	}
	cp := p.codepage(parentCP, pidMessageCodepage, pidInternetCPID)
	m := &outlookMessage{}
	fillMessage(m, p, cp)
	for _, rs := range s.named(msgRecipPrefix) {
		rp, err := mr.props(rs, msgHeaderOther, msgWantRecipient)
		if err != nil {
			return nil, fmt.Errorf("reading recipient: %w", err)
		}
		if a, ok := recipientSMTP(rp, cp); ok {
			m.To = append(m.To, a)
		}
	}
	for _, as := range s.named(msgAttachPrefix) {
		a, err := mr.attachment(as, cp, depth)
		if err != nil {
			return nil, fmt.Errorf("reading attachment: %w", err)
		}
		if a != nil {
			m.Attachments = append(m.Attachments, *a)
		}
	}
	return m, nil
}

// attachment reads an attachment storage; nil when it carries no content (attachments
// by reference, OLE objects).
func (mr *msgReader) attachment(s *cfbStorage, cp encoding.Encoding, depth int) (*outlookAttachment, error) {
	p, err := mr.props(s, msgHeaderOther, msgWantAttachment)
	if err != nil {
		return nil, err
	}
	name, ct := attachmentMeta(p, cp)
	a := &outlookAttachment{Name: name, ContentType: ct, Data: p[mapiTag(pidAttachData, ptBinary)]}
	method, hasMethod := p.int32(pidAttachMethod)
	if sub := s.children[msgEmbeddedName]; sub != nil && (method == attachMethodEmbeddedMsg ||
		!hasMethod && sub.streams[msgPropsStream] != nil) {
		em, err := mr.message(sub, msgHeaderEmbedded, cp, depth+1)
		if err != nil {
			return nil, fmt.Errorf("reading attached message: %w", err)
		}
		a.Embedded, a.Data = em, nil
		if p.str(pidAttachMimeTag, cp) == "" {
			a.ContentType = outlookMessageType
		}
	}
	if len(a.Data) == 0 && a.Embedded == nil {
		return nil, nil
	}
	return a, nil
}

// props reads the properties of a storage: fixed-size ones from its property stream
// (after headerLen bytes), and of the variable-size ones those listed in want.
func (mr *msgReader) props(s *cfbStorage, headerLen int, want []uint16) (propBag, error) {
	p := propBag{}
	if f := s.streams[msgPropsStream]; f != nil {
		data, err := mr.stream(f)
		if err != nil {
			return nil, err
		}
		for e := headerLen; e+16 <= len(data); e += 16 {
			c := &leReader{b: data[e : e+16]}
			t := c.u32()
			if typ := uint16(t); typ&ptMulti == 0 && mapiFixedSize(typ) > 0 {
				if err := mr.budget.take(propCost); err != nil {
					return nil, err
				}
				p[t] = data[e+8 : e+16 : e+16]
			}
		}
	}
	for name, f := range s.streams {
		hex, ok := strings.CutPrefix(name, msgStreamPrefix)
		if !ok || len(hex) != 8 {
			continue
		}
		t, err := strconv.ParseUint(hex, 16, 32)
		id, typ := uint16(t>>16), uint16(t)
		if err != nil || (typ != ptString8 && typ != ptUnicode && typ != ptBinary) || !wanted(want, id) {
			continue
		}
		if p[uint32(t)], err = mr.stream(f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func wanted(ids []uint16, id uint16) bool {
	for _, w := range ids {
		if w == id {
			return true
		}
	}
	return false
}

// stream reads a whole stream, counting it against the budget before allocating.
// It reads in chunks: mscfb's cost per Read grows with the square of the sectors read.
func (mr *msgReader) stream(f *mscfb.File) ([]byte, error) {
	if err := mr.budget.take(f.Size); err != nil {
		return nil, err
	}
	buf := make([]byte, f.Size)
	if len(buf) == 0 {
		return buf, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading stream: %w", err)
	}
	for off := 0; off < len(buf); {
		n, err := f.Read(buf[off:min(off+msgChunk, len(buf))])
		off += n
		switch {
		case err != nil && !(errors.Is(err, io.EOF) && off == len(buf)):
			return nil, fmt.Errorf("reading stream: %w", err)
		case n == 0 && off < len(buf):
			return nil, errors.New("reading stream: short read")
		}
	}
	return buf, nil
}

// leReader reads little-endian values from a byte slice; after the first short read
// every read returns zero and err is set.
type leReader struct {
	b   []byte
	err error
}

var errOutlookTruncated = errors.New("truncated")

func (c *leReader) bytes(n uint32) []byte {
	if c.err != nil || uint64(n) > uint64(len(c.b)) {
		c.err = errOutlookTruncated
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

// padded reads n bytes and skips the padding to the next multiple of 4.
func (c *leReader) padded(n uint32) []byte {
	v := c.bytes(n)
	if pad := (4 - n%4) % 4; c.err == nil && pad > 0 {
		if uint32(len(c.b)) < pad {
			c.b = nil // tolerate missing padding at the very end
		} else {
			c.b = c.b[pad:]
		}
	}
	return v
}

// count reads a 32-bit element count and checks that that many elements of at least
// min bytes each can still follow.
func (c *leReader) count(min int) int {
	n := c.u32()
	if c.err == nil && uint64(n)*uint64(min) > uint64(len(c.b)) {
		c.err = errOutlookTruncated
		return 0
	}
	return int(n)
}

func (c *leReader) u8() uint8 {
	if b := c.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (c *leReader) u16() uint16 {
	if b := c.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (c *leReader) u32() uint32 {
	if b := c.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
