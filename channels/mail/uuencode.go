package mail

import "bytes"

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
