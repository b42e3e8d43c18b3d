package mail

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
