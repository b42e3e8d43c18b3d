package mail

import (
	"bytes"
	"strings"
)

// parseMediaType parses a Content-Type or Content-Disposition value leniently. mt is lower
// case ("text/plain"; for a disposition "attachment" or "inline"), "" if there is none;
// params has lower-case keys and values decoded per RFC 2231 (continuations, charsets)
// and RFC 2047 (filename="=?utf-8?...?=", common though not allowed; no note). It never
// fails. Legal input gets no repair; on damage it adds repairMIME:
//   - an unquoted value with tspecials, white space or 8-bit bytes is taken up to the next
//     ';' (Outlook Express: boundary=----=_NextPart_000_0012_01D2; boundary=abc def);
//   - a missing ';' between parameters, or between the type and the first one;
//   - a duplicate parameter: the first wins (an RFC 2231 value still beats a plain one,
//     which is legal);
//   - a missing subtype: "text" is text/plain, "multipart" multipart/mixed, "message"
//     message/rfc822, another type application/octet-stream; a type with junk after it
//     or more than one '/' is cut;
//   - junk after a value, a parameter without a value, an unterminated quoted string, bad
//     RFC 2231 sections or escapes. Tspecials in an unquoted value and a trailing ';' are read
//     without a note: every client reads them alike, nothing is in doubt.
func parseMediaType(v string, r *repairs) (mt string, params map[string]string) {
	p := &mtParser{s: v, r: r, params: map[string]string{}}
	mt = p.mediaType()
	for p.param() {
	}
	p.assemble()
	return mt, p.params
}

// mtParser is the state of parseMediaType.
type mtParser struct {
	s      string
	i      int
	r      *repairs
	params map[string]string
	ext    map[string]map[int]rfc2231Section
}

// isTokenByte reports whether c may appear in an RFC 2045 token.
func isTokenByte(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}

func (p *mtParser) damaged() { p.r.add(repairMIME) }

// space skips white space and comments.
func (p *mtParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		case '(':
			p.comment()
		default:
			return
		}
	}
}

// comment skips a comment, nested comments and quoted pairs included.
func (p *mtParser) comment() {
	depth := 0
	for ; p.i < len(p.s); p.i++ {
		switch p.s[p.i] {
		case '\\':
			if p.i+1 < len(p.s) {
				p.i++
			}
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				p.i++
				return
			}
		}
	}
}

// token reads a run of bytes for which ok holds.
func (p *mtParser) token(ok func(byte) bool) string {
	start := p.i
	for p.i < len(p.s) && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// toSemicolon skips to the next ';' outside quotes and returns what it skipped.
func (p *mtParser) toSemicolon() string {
	start, quoted := p.i, false
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted && p.i+1 < len(p.s):
			p.i++
		case c == ';' && !quoted:
			return p.s[start:p.i]
		}
	}
	p.i = len(p.s)
	return p.s[start:]
}

// mediaType reads the type and what follows it up to the first parameter.
func (p *mtParser) mediaType() string {
	p.space()
	start := p.i
	mt := strings.ToLower(p.token(func(c byte) bool { return isTokenByte(c) || c == '/' }))
	switch {
	case p.i < len(p.s) && p.s[p.i] == '=':
		p.i = start // a parameter where the type should be
		p.damaged()
		return ""
	case mt == "" && p.i < len(p.s) && p.s[p.i] == '"':
		p.damaged()
		mt = strings.ToLower(strings.TrimSpace(p.quoted()))
	case mt == "":
		if strings.TrimSpace(p.s) != "" {
			p.damaged()
		}
		p.toSemicolon()
		return ""
	}
	p.afterValue()
	return p.fixType(mt)
}

// fixType repairs a type without a subtype or with too many.
func (p *mtParser) fixType(mt string) string {
	typ, sub, ok := strings.Cut(mt, "/")
	if strings.Contains(sub, "/") {
		p.damaged()
		sub, _, _ = strings.Cut(sub, "/")
	}
	if typ == "" || ok && sub != "" {
		if typ == "" {
			p.damaged()
			return ""
		}
		return typ + "/" + sub
	}
	switch typ {
	case "text":
		sub = "plain"
	case "multipart":
		sub = "mixed"
	case "message":
		sub = "rfc822"
	case "application", "image", "audio", "video", "model", "font":
		typ, sub = "application", "octet-stream"
	default:
		if ok { // "x/"
			p.damaged()
			return "application/octet-stream"
		}
		return typ // a disposition
	}
	p.damaged()
	return typ + "/" + sub
}

// afterValue handles what follows the type or a value: the ';' that ends it, the end of
// the input, a missing ';' before the next parameter, or junk up to the next ';'.
func (p *mtParser) afterValue() {
	p.space()
	switch {
	case p.i == len(p.s):
	case p.s[p.i] == ';':
		p.semicolon()
	case p.startsParam():
		p.damaged() // missing ';'
	default:
		p.damaged()
		p.toSemicolon()
		p.semicolon()
	}
}

// semicolon consumes the ';' at p.i, if any; one with nothing after it is a trailing ';'.
func (p *mtParser) semicolon() {
	if p.i >= len(p.s) {
		return
	}
	p.i++
	if strings.Trim(p.s[p.i:], " \t\r\n") == "" {
		p.i = len(p.s) // a trailing ';': common and harmless, no note
	}
}

// startsParam reports whether a "name=" starts at p.i.
func (p *mtParser) startsParam() bool {
	j := p.i
	for j < len(p.s) && isTokenByte(p.s[j]) {
		j++
	}
	for j > p.i && j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	return j > p.i && j < len(p.s) && p.s[j] == '='
}

// quoted reads a quoted string at p.i (which is '"'); an unterminated one runs to the end.
func (p *mtParser) quoted() string {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; c {
		case '"':
			p.i++
			return b.String()
		case '\\':
			if p.i+1 < len(p.s) {
				p.i++
			}
			b.WriteByte(p.s[p.i])
		default:
			b.WriteByte(c)
		}
	}
	p.damaged()
	return b.String()
}

// param reads one parameter; it returns false at the end of the input.
func (p *mtParser) param() bool {
	p.space()
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.damaged() // an empty parameter
		p.i++
		p.space()
	}
	if p.i >= len(p.s) {
		return false
	}
	name := strings.ToLower(p.token(isTokenByte))
	p.space()
	if name == "" || p.i >= len(p.s) || p.s[p.i] != '=' {
		p.damaged() // no name, or no value
		p.toSemicolon()
		p.semicolon()
		return true
	}
	p.i++
	p.space()
	p.store(name, p.value())
	return true
}

// value reads a parameter value, quoted or not, and what follows it.
func (p *mtParser) value() string {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		v := p.quoted()
		p.afterValue()
		return v
	}
	v := p.token(isTokenByte)
	if p.i < len(p.s) && p.s[p.i] != ';' {
		save := p.i
		p.space()
		if p.i < len(p.s) && p.s[p.i] != ';' && !p.startsParam() {
			// tspecials, white space or 8-bit bytes in an unquoted value: up to the ';'.
			// Tspecials alone (Outlook Express's boundary=----=_NextPart_...) are read
			// the same by every client: no note. White space makes the value a guess.
			p.i = save
			v = strings.TrimRight(v+p.toSemicolon(), " \t\r\n")
			if strings.ContainsAny(v, " \t") {
				p.damaged()
			}
		}
	}
	if v == "" {
		p.damaged()
	}
	p.afterValue()
	return v
}

// Boundary lengths findBoundary accepts (RFC 2046 allows 1 to 70; mail in the wild goes
// beyond that).
const maxBoundaryLen = 200

// findBoundary looks in peek (the start of a multipart body) for the boundary delimiter
// actually used: the first line that starts with "--" followed by 1 to 200 characters
// that is repeated as a delimiter later in peek (also as the closing "--boundary--"), or
// the first such line if none is repeated. Trailing white space does not count. It
// returns the boundary without the leading "--", or "".
func findBoundary(peek []byte) string {
	var cands []string
	count := map[string]int{}
	for off := 0; off < len(peek); {
		line, next := peekLine(peek, off)
		off = next
		line = bytes.TrimRight(line, " \t\r")
		if len(line) < 3 || len(line) > maxBoundaryLen+2 || line[0] != '-' || line[1] != '-' {
			continue
		}
		b := string(line[2:])
		if count[b] == 0 {
			cands = append(cands, b)
		}
		count[b]++
		if closing, ok := strings.CutSuffix(b, "--"); ok && closing != "" {
			count[closing]++
		}
	}
	for _, b := range cands {
		if count[b] > 1 {
			return b
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return ""
}
