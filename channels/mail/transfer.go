package mail

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// transferDecoder returns a reader that decodes r per the Content-Transfer-Encoding value
// cte (any case, with white space, quotes or a comment). It never returns a decoding
// error: damage is repaired and reported in rep. Errors of r itself are passed on.
//
//   - "", 7bit, 8bit, binary: r as is.
//   - base64 (also "base-64", "base 64", "b64": repairEncoding): tolerant streaming decoding,
//     see b64Reader.
//   - quoted-printable (also "quotedprintable", "qp": repairEncoding): see qpReader.
//   - x-uuencode, uuencode, x-uue: see uuReader.
//   - anything else: r as is, repairEncoding.
func transferDecoder(r io.Reader, cte string, rep *repairs) io.Reader {
	c := strings.ToLower(strings.TrimSpace(cte))
	if i := strings.IndexAny(c, ";("); i >= 0 {
		c = c[:i]
	}
	c = strings.Trim(c, "\"' \t")
	switch c {
	case "", "7bit", "8bit", "binary":
		return r
	case "base64":
		return newB64Reader(r, rep)
	case "quoted-printable":
		return newQPReader(r, rep)
	case "x-uuencode", "uuencode", "x-uue", "uue":
		return &uuReader{br: bufio.NewReaderSize(r, 4096), rep: rep}
	}
	rep.add(repairEncoding)
	switch compactLabel(c) {
	case "base64", "b64", "xbase64":
		return newB64Reader(r, rep)
	case "quotedprintable", "qp", "xquotedprintable":
		return newQPReader(r, rep)
	case "xuuencode", "uuencode", "xuue":
		return &uuReader{br: bufio.NewReaderSize(r, 4096), rep: rep}
	}
	return r
}

// b64Table maps a byte to its base64 value (the standard and the URL-safe alphabet), or to
// b64Pad ('='), b64Space (CR, LF, space, tab) or b64Junk.
var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = b64Junk
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	t['='] = b64Pad
	for _, c := range []byte("\r\n \t\f\v") {
		t[c] = b64Space
	}
	return t
}()

const (
	b64Pad   = 0x40
	b64Space = 0x80
	b64Junk  = 0xC0
)

// b64State is the state of a tolerant base64 decoder between calls: the sextets of the
// quantum read so far and what damage was seen.
type b64State struct {
	q    uint32
	n    int
	junk bool // a byte outside the alphabet was skipped
	lost bool // padding after a single sextet: 6 bits lost
}

// decode decodes src into dst until src is used up or dst has room for less than one
// quantum. It skips every byte outside the alphabet; '=' ends the current quantum and
// decoding goes on after it, so concatenated base64 decodes to the concatenation.
func (st *b64State) decode(dst, src []byte) (nd, ns int) {
	for ns < len(src) && nd+3 <= len(dst) {
		if st.n == 0 {
			for ns+4 <= len(src) && nd+3 <= len(dst) {
				s := src[ns : ns+4 : ns+4]
				a, b, c, d := b64Table[s[0]], b64Table[s[1]], b64Table[s[2]], b64Table[s[3]]
				if (a|b|c|d)&0xC0 != 0 {
					break
				}
				v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
				o := dst[nd : nd+3 : nd+3]
				o[0], o[1], o[2] = byte(v>>16), byte(v>>8), byte(v)
				nd, ns = nd+3, ns+4
			}
			if ns >= len(src) || nd+3 > len(dst) {
				break
			}
		}
		v := b64Table[src[ns]]
		ns++
		switch {
		case v < 64:
			st.q = st.q<<6 | uint32(v)
			if st.n++; st.n == 4 {
				o := dst[nd : nd+3 : nd+3]
				o[0], o[1], o[2] = byte(st.q>>16), byte(st.q>>8), byte(st.q)
				nd += 3
				st.q, st.n = 0, 0
			}
		case v == b64Pad:
			nd += st.flush(dst[nd:])
		case v == b64Junk:
			st.junk = true
		}
	}
	return nd, ns
}

// flush ends the current quantum early and writes the whole bytes it holds (len(dst) >= 2).
func (st *b64State) flush(dst []byte) int {
	n := 0
	switch st.n {
	case 1:
		st.lost = true
	case 2:
		dst[0] = byte(st.q >> 4)
		n = 1
	case 3:
		dst[0], dst[1] = byte(st.q>>10), byte(st.q>>2)
		n = 2
	}
	st.q, st.n = 0, 0
	return n
}

// decodeBase64 decodes a whole base64 text tolerantly. damaged reports junk, lost bits or
// a final quantum without padding.
func decodeBase64(s string) (out []byte, damaged bool) {
	var st b64State
	out = make([]byte, len(s)/4*3+3)
	nd, _ := st.decode(out, []byte(s))
	truncated := st.n != 0
	nd += st.flush(out[nd:])
	return out[:nd], truncated || st.junk || st.lost
}

// b64Reader is a streaming tolerant base64 decoder in O(1) memory.
type b64Reader struct {
	src        io.Reader
	rep        *repairs
	st         b64State
	buf        []byte
	r, w       int
	tail       [3]byte // decoded bytes for a Read shorter than one quantum
	tr, tw     int
	err        error // sticky error of src
	finished   bool
	emptyReads int
}

func newB64Reader(r io.Reader, rep *repairs) *b64Reader {
	return &b64Reader{src: r, rep: rep, buf: make([]byte, 32<<10)}
}

func (b *b64Reader) Read(p []byte) (int, error) {
	if b.tr < b.tw {
		n := copy(p, b.tail[b.tr:b.tw])
		b.tr += n
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) >= 3 {
		return b.read(p)
	}
	n, err := b.read(b.tail[:])
	b.tr, b.tw = 0, n
	if n == 0 {
		return 0, err
	}
	k := copy(p, b.tail[:n])
	b.tr = k
	return k, nil
}

// read fills p (len(p) >= 3) with at least one decoded byte, or returns the end.
func (b *b64Reader) read(p []byte) (int, error) {
	for {
		if b.r < b.w {
			nd, ns := b.st.decode(p, b.buf[b.r:b.w])
			b.r += ns
			if b.st.junk || b.st.lost {
				b.rep.add(repairEncoding)
			}
			if nd > 0 {
				return nd, nil
			}
			continue
		}
		if b.err != nil {
			return b.end(p)
		}
		b.fill()
	}
}

func (b *b64Reader) fill() {
	b.r, b.w = 0, 0
	n, err := b.src.Read(b.buf)
	b.w = n
	switch {
	case err != nil:
		b.err = err
	case n == 0:
		if b.emptyReads++; b.emptyReads > 100 {
			b.err = io.ErrNoProgress
		}
	default:
		b.emptyReads = 0
	}
}

// end writes the bytes of a final incomplete quantum (truncated base64, repairTruncated)
// and then returns the error that ended src.
func (b *b64Reader) end(p []byte) (int, error) {
	if b.finished || b.err != io.EOF {
		return 0, b.err
	}
	b.finished = true
	if b.st.n == 0 {
		return 0, io.EOF
	}
	b.rep.add(repairTruncated)
	if n := b.st.flush(p); n > 0 {
		return n, nil
	}
	b.rep.add(repairEncoding)
	return 0, io.EOF
}

// uuReader decodes uuencode: the data lines between "begin <mode> <name>" and "end".
// Text before begin is skipped; data without a begin line is decoded anyway
// (repairEncoding), as is a line with bytes outside the uuencode range; a missing "end"
// adds repairTruncated. Anything after "end" is not read.
type uuReader struct {
	br    *bufio.Reader
	rep   *repairs
	out   []byte
	op    int
	state int // 0 before begin, 1 in data, 2 after end
	err   error
}

func (u *uuReader) Read(p []byte) (int, error) {
	for u.op == len(u.out) {
		if u.state == 2 || u.err != nil {
			if u.err == nil || u.err == io.EOF {
				return 0, io.EOF
			}
			return 0, u.err
		}
		u.out, u.op = u.out[:0], 0
		line, err := readLimitedLine(u.br, 1024)
		u.line(bytes.TrimRight(line, "\r\n"))
		if err != nil {
			u.err = err
			if err == io.EOF && u.state == 1 {
				u.rep.add(repairTruncated)
			}
		}
	}
	n := copy(p, u.out[u.op:])
	u.op += n
	return n, nil
}

func (u *uuReader) line(line []byte) {
	trimmed := bytes.TrimSpace(line)
	switch {
	case u.state == 0 && bytes.HasPrefix(trimmed, []byte("begin ")):
		u.state = 1
	case u.state == 1 && string(trimmed) == "end":
		u.state = 2
	case len(trimmed) == 0:
	case u.state == 0 && uuDataLine(line):
		u.rep.add(repairEncoding)
		u.state = 1
		u.data(line)
	case u.state == 0:
		u.rep.add(repairEncoding)
	default:
		u.data(line)
	}
}

// uuDataLine reports whether line is a uuencode data line of the length its first
// character announces.
func uuDataLine(line []byte) bool {
	if len(line) < 2 || line[0] < 0x20 || line[0] > 0x60 {
		return false
	}
	n := int(line[0]-0x20) & 63
	want := (n + 2) / 3 * 4
	return n > 0 && len(line)-1 >= want && len(line)-1 <= want+2
}

func (u *uuReader) data(line []byte) {
	if line[0] < 0x20 || line[0] > 0x60 {
		u.rep.add(repairEncoding)
		return
	}
	n, chars := int(line[0]-0x20)&63, line[1:]
	for got := 0; got < n; got += 3 {
		var v uint32
		for k := range 4 {
			c := byte(0x20) // missing characters: stripped trailing spaces
			if k < len(chars) {
				c = chars[k]
			}
			if c < 0x20 || c > 0x60 {
				u.rep.add(repairEncoding)
			}
			v = v<<6 | uint32(c-0x20)&63
		}
		if len(chars) >= 4 {
			chars = chars[4:]
		} else {
			chars = nil
		}
		u.out = append(u.out, []byte{byte(v >> 16), byte(v >> 8), byte(v)}[:min(3, n-got)]...)
	}
}

// readLimitedLine reads one line including its '\n', keeping at most keep bytes of it (a
// copy) and discarding the rest.
func readLimitedLine(br *bufio.Reader, keep int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if room := keep - len(line); room > 0 {
			line = append(line, chunk[:min(room, len(chunk))]...)
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// qpReader is a tolerant streaming quoted-printable decoder. Soft line breaks ("=" at the
// end of a line, also with white space after it) are removed, "=XX" is decoded in either
// case, white space at the end of a line is removed (RFC 2045 §6.7), and an "=" that does
// not start a valid escape is kept literally (repairEncoding).
type qpReader struct {
	src        io.Reader
	rep        *repairs
	st         qpState
	in, out    []byte
	op         int
	err        error
	emptyReads int
}

func newQPReader(r io.Reader, rep *repairs) *qpReader {
	return &qpReader{src: r, rep: rep, in: make([]byte, 16<<10)}
}

func (q *qpReader) Read(p []byte) (int, error) {
	for q.op == len(q.out) {
		if q.err != nil {
			return 0, q.err
		}
		q.out, q.op = q.out[:0], 0
		n, err := q.src.Read(q.in)
		q.out = q.st.decode(q.out, q.in[:n])
		switch {
		case err != nil:
			q.out = q.st.finish(q.out)
			q.err = err
		case n == 0:
			if q.emptyReads++; q.emptyReads > 100 {
				q.err = io.ErrNoProgress
			}
		default:
			q.emptyReads = 0
		}
		if q.st.bad {
			q.rep.add(repairEncoding)
		}
	}
	n := copy(p, q.out[q.op:])
	q.op += n
	return n, nil
}

// qpState is the state of the quoted-printable decoder between input chunks.
type qpState struct {
	esc  int    // qpText, or where in an escape the decoder is
	hex  byte   // the first hex digit of "=XY"
	ws   []byte // white space not yet known to be at the end of a line
	bad  bool
	wbuf [64]byte
}

const (
	qpText  = iota
	qpEq    // after "="
	qpHex   // after "=X"
	qpEqCR  // after "=\r": soft line break, a "\n" may follow
	qpEqWS  // after "=" and white space: a soft line break if the line ends here
	qpMaxWS = 1024
)

func (st *qpState) decode(out, in []byte) []byte {
	for i := 0; i < len(in); i++ {
		if st.esc == qpText && len(st.ws) == 0 {
			j := i
			for j < len(in) && !qpSpecial(in[j]) {
				j++
			}
			out = append(out, in[i:j]...)
			if i = j; i == len(in) {
				break
			}
		}
		out = st.step(out, in[i])
	}
	return out
}

func qpSpecial(c byte) bool { return c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// step handles one byte; a byte that ends a broken escape is handled again as text.
func (st *qpState) step(out []byte, c byte) []byte {
	switch st.esc {
	case qpEq:
		switch {
		case unhex(c) < 16:
			st.hex, st.esc = c, qpHex
			return out
		case c == '\r':
			st.esc = qpEqCR
			return out
		case c == '\n':
			st.esc = qpText
			return out
		case c == ' ' || c == '\t':
			st.esc, st.ws = qpEqWS, append(st.wbuf[:0], c)
			return out
		}
		st.bad, st.esc = true, qpText
		out = append(out, '=')
	case qpHex:
		st.esc = qpText
		if h := unhex(c); h < 16 {
			return append(out, unhex(st.hex)<<4|h)
		}
		st.bad = true
		out = append(out, '=', st.hex)
	case qpEqCR:
		st.esc = qpText
		if c == '\n' {
			return out
		}
	case qpEqWS:
		switch {
		case (c == ' ' || c == '\t') && len(st.ws) < qpMaxWS:
			st.ws = append(st.ws, c)
			return out
		case c == '\r' || c == '\n':
			st.ws = st.ws[:0]
			st.esc = qpEqCR
			if c == '\n' {
				st.esc = qpText
			}
			return out
		}
		st.bad, st.esc = true, qpText
		out = append(append(out, '='), st.ws...)
		st.ws = st.ws[:0]
	}
	return st.text(out, c)
}

func (st *qpState) text(out []byte, c byte) []byte {
	switch c {
	case ' ', '\t':
		if len(st.ws) >= qpMaxWS {
			out = append(out, st.ws...)
			st.ws = st.ws[:0]
		}
		if len(st.ws) == 0 {
			st.ws = st.wbuf[:0]
		}
		st.ws = append(st.ws, c)
		return out
	case '\r', '\n':
		st.ws = st.ws[:0] // white space at the end of a line
		return append(out, c)
	}
	out = append(out, st.ws...)
	st.ws = st.ws[:0]
	if c == '=' {
		st.esc = qpEq
		return out
	}
	return append(out, c)
}

// finish ends the input: an "=" at the very end is a soft line break, white space at the
// end is dropped, and half an escape is kept literally.
func (st *qpState) finish(out []byte) []byte {
	if st.esc == qpHex {
		st.bad = true
		out = append(out, '=', st.hex)
	}
	st.esc, st.ws = qpText, st.ws[:0]
	return out
}

// unhex returns the value of a hex digit (either case), or 255.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}
