package mail

import (
	"strings"
	"unicode/utf8"
)

// decodeHeaderText decodes a raw header value to UTF-8 text: RFC 2047 encoded words, also
// broken ones, and raw 8-bit bytes (UTF-8 where valid, else Windows-1252, without a note:
// this is common and harmless). Line breaks become spaces.
//
// Legal and common input gets no repair: lower-case "=?utf-8?b?", adjacent words of one
// charset that split a character between them (their bytes are joined before the
// charset is applied), words inside quoted strings or in the middle of a word, and the
// RFC 2231 language suffix ("=?utf-8*nl?Q?...?="). White space between adjacent encoded
// words is dropped (RFC 2047 §6.2).
//
// Broken words are read as well as possible, with repairWords: a missing "?=", white space
// inside a word, base64 without padding or with junk, a Q "=" that starts no hex escape, an
// empty charset. An unknown charset is read as UTF-8 or Windows-1252 (repairCharsetUnknown,
// see decodeText). It is named decodeHeaderText until parse.go's headerText is gone.
func decodeHeaderText(raw string, r *repairs) string {
	if !strings.Contains(raw, "=?") {
		return plainHeaderText(raw, r)
	}
	var out strings.Builder
	var run wordRun
	for i := 0; i < len(raw); {
		k := nextWord(raw, i)
		plain := raw[i:k]
		if k == len(raw) {
			run.flush(&out, r)
			out.WriteString(plainHeaderText(plain, r))
			break
		}
		w, end := parseWord(raw, k)
		if w.broken {
			r.add(repairWords)
		}
		if !run.active || !isLinearSpace(plain) {
			run.flush(&out, r)
			out.WriteString(plainHeaderText(plain, r))
		}
		run.add(&out, w, r)
		i = end
	}
	run.flush(&out, r)
	return out.String()
}

// wordRun collects the decoded bytes of adjacent encoded words of one charset.
type wordRun struct {
	active  bool
	charset string
	b       []byte
}

func (run *wordRun) add(out *strings.Builder, w encodedWord, r *repairs) {
	if run.active && !strings.EqualFold(run.charset, w.charset) {
		run.flush(out, r)
	}
	run.active, run.charset = true, w.charset
	run.b = append(run.b, w.decoded...)
}

func (run *wordRun) flush(out *strings.Builder, r *repairs) {
	if !run.active {
		return
	}
	out.WriteString(oneLine(decodeText(run.b, run.charset, r)))
	run.active, run.charset, run.b = false, "", run.b[:0]
}

// oneLine turns the line breaks of decoded header text into spaces.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

func isLinearSpace(s string) bool {
	return strings.Trim(s, " \t\r\n") == ""
}

// plainHeaderText is header text outside encoded words: 8-bit bytes as UTF-8 where valid,
// else Windows-1252 (no note), line breaks removed (unfolding), C0 controls other than TAB
// and DEL removed (repairControl).
func plainHeaderText(s string, r *repairs) string {
	clean := utf8.ValidString(s)
	for i := 0; clean && i < len(s); i++ {
		clean = (s[i] >= ' ' || s[i] == '\t') && s[i] != 0x7f
	}
	if clean {
		return s
	}
	if !utf8.ValidString(s) {
		s = utf8OrWindows1252([]byte(s))
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n':
		case c < ' ' && c != '\t' || c == 0x7f:
			r.add(repairControl)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// encodedWord is one parsed encoded word.
type encodedWord struct {
	charset string
	decoded []byte // after B or Q decoding, before the charset
	broken  bool
}

// maxCharsetLen bounds the charset name of an encoded word.
const maxCharsetLen = 64

// wordPrefix reports whether s[i:] starts an encoded word "=?charset?B?" or "=?charset?Q?"
// (either case), and returns the charset and the index of the encoded text.
func wordPrefix(s string, i int) (charset string, text int, enc byte, ok bool) {
	if i+1 >= len(s) || s[i] != '=' || s[i+1] != '?' {
		return "", 0, 0, false
	}
	p := i + 2
	for p < len(s) && p-i-2 <= maxCharsetLen && isCharsetByte(s[p]) {
		p++
	}
	if p+2 >= len(s) || s[p] != '?' || s[p+2] != '?' {
		return "", 0, 0, false
	}
	switch e := s[p+1] | 0x20; e {
	case 'b', 'q':
		return s[i+2 : p], p + 3, e, true
	}
	return "", 0, 0, false
}

// isCharsetByte reports whether c may appear in the charset of an encoded word: a token of
// RFC 2047, but with '.' and ':' allowed ("iso_8859-1:1987"), and '*' for the RFC 2231
// language.
func isCharsetByte(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune("()<>@,;\"/[]?=", rune(c))
}

// nextWord returns the index of the next encoded word in s at or after i, or len(s).
func nextWord(s string, i int) int {
	for {
		k := strings.Index(s[i:], "=?")
		if k < 0 {
			return len(s)
		}
		if _, _, _, ok := wordPrefix(s, i+k); ok {
			return i + k
		}
		i += k + 1
	}
}

// parseWord parses the encoded word at s[i:] (wordPrefix must hold) and returns it and the
// index after it. A word without "?=" ends where the next encoded word starts; failing
// that, a B word ends after its base64 and a Q word at the end of s.
func parseWord(s string, i int) (encodedWord, int) {
	charset, t, enc, _ := wordPrefix(s, i)
	w := encodedWord{charset: charset}
	if j := strings.IndexByte(charset, '*'); j >= 0 {
		w.charset = charset[:j] // RFC 2231 language
	}
	if w.charset == "" {
		w.broken = true
	}
	text, end, closed := s[t:], len(s), false
	for k := t; k+1 < len(s); k++ {
		if s[k] == '?' && s[k+1] == '=' {
			text, end, closed = s[t:k], k+2, true
			break
		}
		if _, _, _, ok := wordPrefix(s, k); ok {
			text, end, closed = s[t:k], k, true
			w.broken = true
			break
		}
	}
	if !closed {
		w.broken = true
		if enc == 'b' {
			n := 0
			for n < len(text) && b64Table[text[n]] <= b64Pad {
				n++
			}
			text, end = text[:n], t+n
		}
		text = strings.TrimSuffix(text, "?")
		if end < len(s) && s[end] == '?' {
			end++
		}
	}
	if strings.ContainsAny(text, " \t\r\n") {
		w.broken = true
	}
	var damaged bool
	if enc == 'b' {
		w.decoded, damaged = decodeBase64(text)
	} else {
		w.decoded, damaged = decodeQ(text)
	}
	w.broken = w.broken || damaged
	return w, end
}

// decodeQ decodes the Q encoding of RFC 2047: '_' is a space, "=XX" a byte (hex in either
// case). An "=" that starts no escape stays literally (damaged); line breaks inside the
// word are dropped, other white space stays.
func decodeQ(s string) (out []byte, damaged bool) {
	out = make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '_':
			out = append(out, ' ')
		case '\r', '\n':
		case '=':
			if i+2 < len(s) && unhex(s[i+1]) < 16 && unhex(s[i+2]) < 16 {
				out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
				i += 2
				continue
			}
			damaged = true
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out, damaged
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
