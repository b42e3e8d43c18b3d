package mail

import (
	"bytes"
	"io"
	"slices"
	"strings"
)

// transferDecoder returns a reader that decodes r per the Content-Transfer-Encoding value
// cte (any case, with white space, quotes or a comment). It never returns a decoding
// error: damage is repaired and reported in rep. Errors of r itself are passed on.
//
//   - "", 7bit, 8bit, binary: r as is.
//   - base64 (also "base-64", "base 64", "b64": repairEncoding): see b64Decoder.
//   - quoted-printable (also "quotedprintable", "qp": repairEncoding): see qpDecoder.
//   - x-uuencode, uuencode, x-uue: see uuDecoder.
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
	case "base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue", "uue":
	default:
		rep.add(repairEncoding)
	}
	switch compactLabel(c) {
	case "base64", "b64", "xbase64":
		return &decodeReader{src: r, dec: &b64Decoder{rep: rep}}
	case "quotedprintable", "qp", "xquotedprintable":
		return &decodeReader{src: r, dec: &qpDecoder{rep: rep}}
	case "xuuencode", "uuencode", "xuue", "uue":
		return &decodeReader{src: r, dec: &uuDecoder{rep: rep}}
	}
	return r
}

// chunkDecoder decodes a stream a chunk at a time.
type chunkDecoder interface {
	decode(out, in []byte) []byte // appends the decoding of in to out
	finish(out []byte) []byte     // appends what is left at the end of the input
}

// decodeReader reads src through a chunkDecoder, in O(1) memory.
type decodeReader struct {
	src   io.Reader
	dec   chunkDecoder
	in    []byte
	out   []byte
	op    int
	err   error // of src; io.EOF after the decoder finished
	empty int   // reads in a row that returned nothing
}

func (d *decodeReader) Read(p []byte) (int, error) {
	for d.op == len(d.out) {
		if d.err != nil {
			return 0, d.err
		}
		if d.in == nil {
			// A part's reader yields a line per read, so a larger buffer would only be
			// allocated and cleared for nothing.
			d.in = make([]byte, 4<<10)
		}
		n, err := d.src.Read(d.in)
		d.out, d.op = d.dec.decode(d.out[:0], d.in[:n]), 0
		switch {
		case err == io.EOF:
			d.out, d.err = d.dec.finish(d.out), err
		case err != nil:
			d.err = err
		case n == 0:
			if d.empty++; d.empty > 100 {
				d.err = io.ErrNoProgress
			}
		default:
			d.empty = 0
		}
	}
	n := copy(p, d.out[d.op:])
	d.op += n
	return n, nil
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

// b64Decoder is a tolerant streaming base64 decoder: every byte outside the alphabets is
// skipped (junk other than white space: repairEncoding), '=' ends a quantum and decoding
// goes on after it, and a final incomplete quantum (truncated base64) gives the whole bytes
// it holds (repairTruncated).
type b64Decoder struct {
	st  b64State
	rep *repairs
}

func (b *b64Decoder) decode(out, in []byte) []byte {
	for len(in) > 0 {
		out = slices.Grow(out, len(in)/4*3+6)
		nd, ns := b.st.decode(out[len(out):cap(out)], in)
		out, in = out[:len(out)+nd], in[ns:]
	}
	if b.st.junk || b.st.lost {
		b.rep.add(repairEncoding)
	}
	return out
}

func (b *b64Decoder) finish(out []byte) []byte {
	if b.st.n != 0 {
		b.rep.add(repairTruncated)
	}
	var tail [3]byte
	out = append(out, tail[:b.st.flush(tail[:])]...)
	if b.st.lost {
		b.rep.add(repairEncoding)
	}
	return out
}

// uuDecoder decodes uuencode: the data lines between "begin <mode> <name>" and "end".
// Text before begin is skipped; data without a begin line is decoded anyway
// (repairEncoding), as is a line with bytes outside the uuencode range; a missing "end"
// adds repairTruncated. What follows "end" is read and dropped.
type uuDecoder struct {
	rep   *repairs
	line  []byte // the line being read, at most uuMaxLine bytes of it
	state int    // 0 before begin, 1 in data, 2 after end
}

const uuMaxLine = 1024

func (u *uuDecoder) decode(out, in []byte) []byte {
	for len(in) > 0 {
		i := bytes.IndexByte(in, '\n')
		chunk := in
		if i >= 0 {
			chunk, in = in[:i], in[i+1:]
		} else {
			in = nil
		}
		if room := uuMaxLine - len(u.line); room > 0 {
			u.line = append(u.line, chunk[:min(room, len(chunk))]...)
		}
		if i >= 0 {
			out = u.handle(out, bytes.TrimRight(u.line, "\r"))
			u.line = u.line[:0]
		}
	}
	return out
}

func (u *uuDecoder) finish(out []byte) []byte {
	if len(u.line) > 0 {
		out = u.handle(out, bytes.TrimRight(u.line, "\r"))
	}
	if u.state == 1 {
		u.rep.add(repairTruncated)
	}
	return out
}

// handle handles one line.
func (u *uuDecoder) handle(out, line []byte) []byte {
	trimmed := bytes.TrimSpace(line)
	switch {
	case u.state == 2:
	case u.state == 0 && bytes.HasPrefix(trimmed, []byte("begin ")):
		u.state = 1
	case u.state == 1 && string(trimmed) == "end":
		u.state = 2
	case len(trimmed) == 0:
	case u.state == 0 && uuDataLine(line):
		u.rep.add(repairEncoding)
		u.state = 1
		return u.data(out, line)
	case u.state == 0:
		u.rep.add(repairEncoding)
	default:
		return u.data(out, line)
	}
	return out
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

func (u *uuDecoder) data(out, line []byte) []byte {
	if line[0] < 0x20 || line[0] > 0x60 {
		u.rep.add(repairEncoding)
		return out
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
		out = append(out, []byte{byte(v >> 16), byte(v >> 8), byte(v)}[:min(3, n-got)]...)
	}
	return out
}

// qpDecoder is a tolerant streaming quoted-printable decoder. Soft line breaks ("=" at the
// end of a line, also with white space after it) are removed, "=XX" is decoded in either
// case, white space at the end of a line is removed (RFC 2045 §6.7), and an "=" that does
// not start a valid escape is kept literally (repairEncoding).
type qpDecoder struct {
	rep  *repairs
	esc  int    // qpText, or where in an escape the decoder is
	hex  byte   // the first hex digit of "=XY"
	ws   []byte // white space not yet known to be at the end of a line
	wbuf [64]byte
}

// bad reports a broken escape.
func (st *qpDecoder) bad() { st.rep.add(repairEncoding) }

const (
	qpText  = iota
	qpEq    // after "="
	qpHex   // after "=X"
	qpEqCR  // after "=\r": soft line break, a "\n" may follow
	qpEqWS  // after "=" and white space: a soft line break if the line ends here
	qpMaxWS = 1024
)

func (st *qpDecoder) decode(out, in []byte) []byte {
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
func (st *qpDecoder) step(out []byte, c byte) []byte {
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
		st.esc = qpText
		st.bad()
		out = append(out, '=')
	case qpHex:
		st.esc = qpText
		if h := unhex(c); h < 16 {
			return append(out, unhex(st.hex)<<4|h)
		}
		st.bad()
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
		st.esc = qpText
		st.bad()
		out = append(append(out, '='), st.ws...)
		st.ws = st.ws[:0]
	}
	return st.text(out, c)
}

func (st *qpDecoder) text(out []byte, c byte) []byte {
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
func (st *qpDecoder) finish(out []byte) []byte {
	if st.esc == qpHex {
		st.bad()
		out = append(out, '=', st.hex)
	}
	st.esc, st.ws = qpText, st.ws[:0]
	return out
}
