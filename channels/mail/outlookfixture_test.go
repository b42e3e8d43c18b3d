package mail

// Test-only writers that build Outlook containers from an outlookMessage: a minimal
// TNEF writer ([MS-OXTNEF]) and a minimal compound file writer ([MS-CFB], version 3,
// 512-byte sectors) laid out as a .msg ([MS-OXMSG]). They write what the readers need and
// a few things the readers must skip (named and multi-valued properties, an Exchange DN).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// fixtureProp is one MAPI property for the writers; val is the encoded value (strings
// with their terminator). A named property has a guid; a multi-valued one has multi.
type fixtureProp struct {
	id, typ uint16
	val     []byte
	guid    []byte
	multi   [][]byte
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func utf16z(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 0, 0)
}

func encodeString8(s string, enc encoding.Encoding) []byte {
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(fmt.Sprintf("fixture text not encodable: %v", err))
	}
	return b
}

// fixtureStrings writes string properties as PT_UNICODE, or as PT_STRING8 in enc, the
// encoding of Windows codepage cp.
type fixtureStrings struct {
	enc encoding.Encoding
	cp  uint32
}

func (f fixtureStrings) prop(id uint16, s string) fixtureProp {
	if f.enc == nil {
		return fixtureProp{id: id, typ: ptUnicode, val: utf16z(s)}
	}
	return fixtureProp{id: id, typ: ptString8, val: append(encodeString8(s, f.enc), 0)}
}

func longProp(id uint16, v uint32) fixtureProp {
	return fixtureProp{id: id, typ: ptInt32, val: le32(v)}
}

func timeProp(id uint16, t time.Time) fixtureProp {
	ft := uint64(t.UnixNano()/100) + 116444736000000000
	return fixtureProp{id: id, typ: ptSysTime, val: binary.LittleEndian.AppendUint64(nil, ft)}
}

// --- TNEF ---

// tnefAttr encodes one attribute with its checksum.
func tnefAttr(level byte, id uint32, data []byte) []byte {
	var sum uint16
	for _, c := range data {
		sum += uint16(c)
	}
	b := append([]byte{level}, le32(id)...)
	b = append(append(b, le32(uint32(len(data)))...), data...)
	return append(b, le16(sum)...)
}

// tnefProps encodes a counted property list (attMsgProps, attAttachment, a recipient row).
func tnefProps(ps []fixtureProp) []byte {
	pad := func(b []byte) []byte { return append(b, make([]byte, (4-len(b)%4)%4)...) }
	b := le32(uint32(len(ps)))
	for _, p := range ps {
		b = append(append(b, le16(p.typ)...), le16(p.id)...)
		if p.guid != nil {
			b = append(append(append(b, p.guid...), le32(0)...), le32(0x8500)...)
		}
		base := p.typ &^ ptMulti
		vals := [][]byte{p.val}
		if p.multi != nil {
			vals = p.multi
		}
		if p.multi != nil || mapiFixedSize(base) < 0 {
			b = append(b, le32(uint32(len(vals)))...)
		}
		for _, v := range vals {
			if mapiFixedSize(base) < 0 {
				b = append(b, le32(uint32(len(v)))...)
			}
			b = pad(append(b, v...))
		}
	}
	return b
}

// writeTNEF encodes m as a TNEF stream: subject and body as attributes in codepage 1252
// (the body also as PR_BODY), the rest as MAPI properties.
func writeTNEF(m *outlookMessage) []byte {
	date := make([]byte, 0, 14)
	for _, v := range []int{m.Date.Year(), int(m.Date.Month()), m.Date.Day(), m.Date.Hour(), m.Date.Minute(), m.Date.Second(), int(m.Date.Weekday())} {
		date = append(date, le16(uint16(v))...)
	}
	b := append(le32(tnefSignature), le16(0x0001)...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00089006, le32(0x00010000))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00069007, append(le32(1252), le32(0)...))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00078008, []byte("IPM.Microsoft Mail.Note\x00"))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00010000|attSubject, append(encodeString8(m.Subject, charmap.Windows1252), 0))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00030000|attDateSent, date)...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00018009, []byte("757BB19CDE936A4087D90BB784C58E3B\x00"))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00020000|attBody, encodeString8(m.Text, charmap.Windows1252))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00060000|attMsgProps, tnefProps(messageProps(m, fixtureStrings{})))...)
	rows := le32(uint32(len(m.To)))
	for _, a := range m.To {
		rows = append(rows, tnefProps(recipientProps(a, fixtureStrings{}))...)
	}
	b = append(b, tnefAttr(tnefLevelMessage, 0x00060000|attRecipTable, rows)...)
	for i := range m.Attachments {
		a := &m.Attachments[i]
		rend := append(append(le16(1), le32(0xFFFFFFFF)...), make([]byte, 8)...)
		b = append(b, tnefAttr(tnefLevelAttachment, 0x00060000|attAttachRendData, rend)...)
		b = append(b, tnefAttr(tnefLevelAttachment, 0x00010000|attAttachTitle, append([]byte(a.Name), 0))...)
		ps := attachmentProps(a, fixtureStrings{})
		if a.Embedded != nil {
			obj := append(append([]byte{}, iidIMessage[:]...), writeTNEF(a.Embedded)...)
			ps = append(ps, fixtureProp{id: pidAttachData, typ: ptObject, val: obj})
		} else {
			b = append(b, tnefAttr(tnefLevelAttachment, 0x00060000|attAttachData, a.Data)...)
		}
		b = append(b, tnefAttr(tnefLevelAttachment, 0x00060000|attAttachment, tnefProps(ps))...)
	}
	return b
}

// --- CFB / MSG ---

// cfbNode is a storage (children) or a stream (data) for the compound file writer.
type cfbNode struct {
	name     string
	storage  bool
	data     []byte
	children []*cfbNode
}

// msgStorage lays out a message as the storage tree of a .msg; headerLen is the length
// of its property stream header.
func msgStorage(m *outlookMessage, fs fixtureStrings, headerLen int) []*cfbNode {
	hdr := make([]byte, headerLen)
	if headerLen >= 24 {
		binary.LittleEndian.PutUint32(hdr[8:], uint32(len(m.To)))
		binary.LittleEndian.PutUint32(hdr[12:], uint32(len(m.Attachments)))
		binary.LittleEndian.PutUint32(hdr[16:], uint32(len(m.To)))
		binary.LittleEndian.PutUint32(hdr[20:], uint32(len(m.Attachments)))
	}
	nodes := msgProps(messageProps(m, fs), hdr)
	for i, a := range m.To {
		name := fmt.Sprintf("%s%08X", msgRecipPrefix, i)
		nodes = append(nodes, &cfbNode{name: name, storage: true, children: msgProps(recipientProps(a, fs), make([]byte, 8))})
	}
	for i := range m.Attachments {
		a := &m.Attachments[i]
		ps := attachmentProps(a, fs)
		if a.Embedded == nil {
			ps = append(ps, fixtureProp{id: pidAttachData, typ: ptBinary, val: a.Data})
		}
		children := msgProps(ps, make([]byte, 8))
		if a.Embedded != nil {
			children = append(children, &cfbNode{name: msgEmbeddedName, storage: true, children: msgStorage(a.Embedded, fs, msgHeaderEmbedded)})
		}
		nodes = append(nodes, &cfbNode{name: fmt.Sprintf("%s%08X", msgAttachPrefix, i), storage: true, children: children})
	}
	return nodes
}

// msgProps writes properties as a property stream (after hdr) and substg streams.
// Named and multi-valued properties are left out.
func msgProps(ps []fixtureProp, hdr []byte) []*cfbNode {
	props := &cfbNode{name: msgPropsStream, data: hdr}
	nodes := []*cfbNode{props}
	for _, p := range ps {
		if p.guid != nil || p.multi != nil {
			continue
		}
		entry := append(le32(mapiTag(p.id, p.typ)), le32(6)...)
		if mapiFixedSize(p.typ) >= 0 {
			entry = append(entry, p.val...)
		} else {
			entry = append(entry, le32(uint32(len(p.val)))...)
			data := p.val
			if p.typ != ptBinary { // the stream holds the string without its terminator
				data = bytes.TrimSuffix(data, []byte{0, 0}[:1+int(p.typ&1)])
			}
			nodes = append(nodes, &cfbNode{name: fmt.Sprintf("%s%08X", msgStreamPrefix, mapiTag(p.id, p.typ)), data: data})
		}
		props.data = append(props.data, append(entry, make([]byte, 16-len(entry))...)...)
	}
	return nodes
}

// writeMSG encodes m as a .msg file; with fs.enc set, strings are PT_STRING8.
func writeMSG(m *outlookMessage, fs fixtureStrings) []byte {
	nameid := &cfbNode{name: "__nameid_version1.0", storage: true, children: []*cfbNode{
		{name: "__substg1.0_00020102"}, {name: "__substg1.0_00030102"}, {name: "__substg1.0_00040102"},
	}}
	return writeCFB(append(msgStorage(m, fs, msgHeaderTop), nameid))
}

const (
	cfbEnd  = 0xFFFFFFFE
	cfbFree = 0xFFFFFFFF
	cfbFAT  = 0xFFFFFFFD
)

// cfbLayout collects sectors, the FAT, the mini stream and its FAT while writing.
type cfbLayout struct {
	sectors []byte
	fat     []uint32
	mini    []byte
	miniFAT []uint32
	dir     []byte
}

// chain appends data in whole sectors and returns its first sector.
func (l *cfbLayout) chain(data []byte) uint32 { return appendChain(&l.fat, &l.sectors, data, 512) }

// miniChain appends data to the mini stream and returns its first mini sector.
func (l *cfbLayout) miniChain(data []byte) uint32 { return appendChain(&l.miniFAT, &l.mini, data, 64) }

// appendChain appends data to buf in sectors of size bytes, linked in fat.
func appendChain(fat *[]uint32, buf *[]byte, data []byte, size int) uint32 {
	if len(data) == 0 {
		return cfbEnd
	}
	start, n := uint32(len(*fat)), (len(data)+size-1)/size
	for i := 1; i < n; i++ {
		*fat = append(*fat, uint32(len(*fat)+1))
	}
	*fat = append(*fat, cfbEnd)
	*buf = append(append(*buf, data...), make([]byte, n*size-len(data))...)
	return start
}

// dirEntry appends a 128-byte directory entry.
func (l *cfbLayout) dirEntry(name string, typ byte, left, right, child, start uint32, size int) {
	e := make([]byte, 128)
	n := utf16z(name)
	copy(e, n)
	binary.LittleEndian.PutUint16(e[64:], uint16(len(n)))
	e[66], e[67] = typ, 1 // black
	for i, v := range []uint32{left, right, child} {
		binary.LittleEndian.PutUint32(e[68+4*i:], v)
	}
	binary.LittleEndian.PutUint32(e[116:], start)
	binary.LittleEndian.PutUint32(e[120:], uint32(size))
	l.dir = append(l.dir, e...)
}

// writeCFB writes a compound file whose root storage holds nodes.
func writeCFB(nodes []*cfbNode) []byte {
	l := &cfbLayout{}
	var flat []*cfbNode // directory order; index 0 is the root
	ids := map[*cfbNode]uint32{}
	var number func(n *cfbNode)
	number = func(n *cfbNode) {
		ids[n] = uint32(len(flat))
		flat = append(flat, n)
		for _, c := range n.children {
			number(c)
		}
	}
	root := &cfbNode{name: "Root Entry", storage: true, children: nodes}
	number(root)
	starts := make([]uint32, len(flat))
	for i, n := range flat { // big streams in regular sectors, small ones in the mini stream
		switch {
		case n.storage || len(n.data) == 0:
			starts[i] = cfbEnd
		case len(n.data) >= 4096:
			starts[i] = l.chain(n.data)
		default:
			starts[i] = l.miniChain(n.data)
		}
	}
	starts[0] = l.chain(l.mini)
	left, right, child := siblingTrees(flat, ids)
	for i, n := range flat {
		typ, size := byte(2), len(n.data)
		if n.storage {
			typ, size = 1, 0
		}
		if i == 0 {
			typ, size = 5, len(l.mini)
		}
		l.dirEntry(n.name, typ, left[i], right[i], child[i], starts[i], size)
	}
	for len(l.dir)%512 != 0 {
		l.dirEntry("", 0, cfbFree, cfbFree, cfbFree, 0, 0)
	}
	miniFAT := []byte{}
	for _, v := range l.miniFAT {
		miniFAT = append(miniFAT, le32(v)...)
	}
	miniFATStart := l.chain(miniFAT)
	dirStart := l.chain(l.dir)
	return l.finish(dirStart, miniFATStart, (len(miniFAT)+511)/512)
}

// siblingTrees links each storage's children into a balanced binary tree in CFB name
// order (length first, then upper case), returning left, right and child ids.
func siblingTrees(flat []*cfbNode, ids map[*cfbNode]uint32) (left, right, child []uint32) {
	left, right, child = make([]uint32, len(flat)), make([]uint32, len(flat)), make([]uint32, len(flat))
	for i := range flat {
		left[i], right[i], child[i] = cfbFree, cfbFree, cfbFree
	}
	var build func(cs []*cfbNode) uint32
	build = func(cs []*cfbNode) uint32 {
		if len(cs) == 0 {
			return cfbFree
		}
		mid := len(cs) / 2
		id := ids[cs[mid]]
		left[id], right[id] = build(cs[:mid]), build(cs[mid+1:])
		return id
	}
	for i, n := range flat {
		cs := append([]*cfbNode(nil), n.children...)
		sort.Slice(cs, func(a, b int) bool {
			if len(cs[a].name) != len(cs[b].name) {
				return len(cs[a].name) < len(cs[b].name)
			}
			return strings.ToUpper(cs[a].name) < strings.ToUpper(cs[b].name)
		})
		child[i] = build(cs)
	}
	return left, right, child
}

// finish appends the FAT sectors and writes the header.
func (l *cfbLayout) finish(dirStart, miniFATStart uint32, miniFATSectors int) []byte {
	nFAT := 1
	for (len(l.fat)+nFAT)*4 > nFAT*512 {
		nFAT++
	}
	if nFAT > 109 {
		panic("fixture too large for a compound file without DIFAT sectors")
	}
	first := uint32(len(l.fat))
	for i := 0; i < nFAT; i++ {
		l.fat = append(l.fat, cfbFAT)
	}
	var fat []byte
	for i := 0; i < nFAT*128; i++ {
		v := uint32(cfbFree)
		if i < len(l.fat) {
			v = l.fat[i]
		}
		fat = append(fat, le32(v)...)
	}
	h := make([]byte, 512)
	copy(h, cfbMagic)
	for off, v := range map[int]uint16{24: 0x003E, 26: 3, 28: 0xFFFE, 30: 9, 32: 6} {
		binary.LittleEndian.PutUint16(h[off:], v)
	}
	for off, v := range map[int]uint32{44: uint32(nFAT), 48: dirStart, 56: 4096, 60: miniFATStart,
		64: uint32(miniFATSectors), 68: cfbEnd} {
		binary.LittleEndian.PutUint32(h[off:], v)
	}
	for i := 0; i < 109; i++ {
		v := uint32(cfbFree)
		if i < nFAT {
			v = first + uint32(i)
		}
		binary.LittleEndian.PutUint32(h[76+4*i:], v)
	}
	return append(append(h, l.sectors...), fat...)
}
