package mail

import "errors"

// A minimal BER reader, enough to take the signed content out of an S/MIME message:
// definite and indefinite lengths, constructed OCTET STRINGs. DER is a subset of BER.

type berElem struct {
	tag     byte // the identifier octet (class, constructed bit, low tag number)
	content []byte
}

var errBER = errors.New("smime: malformed BER")

// maxBERDepth bounds nesting of indefinite-length elements.
const maxBERDepth = 64

func berNext(b []byte) (berElem, []byte, error) { return berParse(b, 0) }

func berParse(b []byte, depth int) (berElem, []byte, error) {
	if depth > maxBERDepth || len(b) < 2 {
		return berElem{}, nil, errBER
	}
	tag := b[0]
	i := 1
	if tag&0x1f == 0x1f { // high tag number: skip its octets
		for i < len(b) && b[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if i >= len(b) {
		return berElem{}, nil, errBER
	}
	l := int(b[i])
	i++
	switch {
	case l < 0x80:
	case l == 0x80: // indefinite: children up to the end-of-contents octets
		if tag&0x20 == 0 {
			return berElem{}, nil, errBER
		}
		start, rest := i, b[i:]
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				end := len(b) - len(rest)
				return berElem{tag: tag, content: b[start:end]}, rest[2:], nil
			}
			_, r, err := berParse(rest, depth+1)
			if err != nil {
				return berElem{}, nil, err
			}
			rest = r
		}
	default:
		n := l & 0x7f
		if n > 4 || i+n > len(b) {
			return berElem{}, nil, errBER
		}
		l = 0
		for _, c := range b[i : i+n] {
			l = l<<8 | int(c)
		}
		i += n
	}
	if l < 0 || i+l > len(b) {
		return berElem{}, nil, errBER
	}
	return berElem{tag: tag, content: b[i : i+l]}, b[i+l:], nil
}

func berChildren(e berElem) ([]berElem, error) {
	var out []berElem
	rest := e.content
	for len(rest) > 0 {
		if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
			break
		}
		c, r, err := berNext(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		rest = r
	}
	return out, nil
}

func berFirst(e berElem) (berElem, error) {
	c, _, err := berNext(e.content)
	return c, err
}

// berOctets returns the value of an OCTET STRING, primitive (0x04) or constructed (0x24).
func berOctets(e berElem) ([]byte, error) { return berOctetsDepth(e, 0) }

func berOctetsDepth(e berElem, depth int) ([]byte, error) {
	if depth > maxBERDepth {
		return nil, errBER
	}
	switch e.tag {
	case 0x04:
		return e.content, nil
	case 0x24:
		kids, err := berChildren(e)
		if err != nil {
			return nil, err
		}
		var out []byte
		for _, k := range kids {
			b, err := berOctetsDepth(k, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
		}
		return out, nil
	}
	return nil, errBER
}
