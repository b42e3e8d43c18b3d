package mail

import (
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
