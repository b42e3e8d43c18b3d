package mail

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// csKind is how decodeText treats a declared charset.
type csKind int

const (
	csUnknown csKind = iota // no decoder for the label
	csUTF8                  // UTF-8, US-ASCII or no label
	csSingle                // a single-byte charset (ISO 8859, Windows-125x, KOI8, ...)
	csMulti                 // a multi-byte charset with 8-bit bytes (Shift_JIS, EUC-KR, GBK, Big5, ...)
	csWide                  // UTF-16 and UTF-32
	csUTF7                  // UTF-7, decoded by decodeUTF7
)

// charsetAliases maps labels that neither htmlindex nor ianaindex knows, in the compact
// form of compactLabel, to one that htmlindex knows. Read-only.
var charsetAliases = map[string]string{
	"utf8": "utf-8", "xunicode20utf8": "utf-8", "unicode11utf8": "utf-8",
	"latin1": "windows-1252", "iso88591": "windows-1252", "88591": "windows-1252",
	"ksc56011987": "euc-kr", "ksc5601": "euc-kr", "euckr": "euc-kr", "cp949": "euc-kr", "ms949": "euc-kr", "uhc": "euc-kr",
	"sjis": "shift_jis", "xsjis": "shift_jis", "shiftjis": "shift_jis", "cp932": "shift_jis", "ms932": "shift_jis", "windows31j": "shift_jis",
	"eucjp": "euc-jp", "iso2022jp": "iso-2022-jp",
	"gb2312": "gbk", "xgbk": "gbk", "cp936": "gbk", "ms936": "gbk", "xgb2312": "gbk", "euccn": "gbk",
	"cp950": "big5", "big5hkscs": "big5",
	"koi8r": "koi8-r", "koi8u": "koi8-u",
	"iso885915": "iso-8859-15", "latin9": "iso-8859-15",
}

// asciiLabels are the compact labels of US-ASCII. htmlindex maps them to Windows-1252, but
// for mail they mean "no 8-bit bytes", so 8-bit bytes under them are a lie.
var asciiLabels = map[string]bool{
	"usascii": true, "ascii": true, "us": true, "ansix341968": true, "ansix341986": true,
	"iso646us": true, "iso646irv1991": true, "isoir6": true, "csascii": true, "ibm367": true, "cp367": true,
}

// compactLabel lower-cases a label and drops '-', '_', ' ', '.' and ':' so that "UTF_8",
// "win-1252" and "ISO 8859-1" compare with their usual spelling.
func compactLabel(label string) string {
	var b strings.Builder
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c == '-' || c == '_' || c == ' ' || c == '.' || c == ':':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cleanLabel takes the label out of a charset parameter that may carry quotes, white
// space, a comment or junk after it.
func cleanLabel(label string) string {
	label = strings.TrimSpace(label)
	label = strings.TrimPrefix(strings.ToLower(label), "charset=")
	label = strings.Trim(label, "\"' \t")
	if i := strings.IndexAny(label, "; \t\"'(),"); i >= 0 {
		label = label[:i]
	}
	return label
}

// lookupCharset returns the encoding for a label, nil if unknown. It tries
// golang.org/x/text/encoding/htmlindex (the WHATWG labels, so "iso-8859-1" and "us-ascii"
// give Windows-1252), then ianaindex, then common aliases. UTF-7 has no encoding.Encoding
// here (decodeText handles it), and WHATWG's "replacement" encoding and x-user-defined
// count as unknown: they would turn text into garbage.
func lookupCharset(label string) encoding.Encoding {
	label = cleanLabel(label)
	if label == "" {
		return nil
	}
	compact := compactLabel(label)
	switch compact {
	case "utf16", "utf16be", "unicodefffe":
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM)
	case "utf16le", "unicode":
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	case "utf32", "utf32be":
		return utf32.UTF32(utf32.BigEndian, utf32.UseBOM)
	case "utf32le":
		return utf32.UTF32(utf32.LittleEndian, utf32.UseBOM)
	case "xuserdefined":
		return nil
	}
	if e := indexLookup(label); e != nil {
		return e
	}
	if alias, ok := charsetAliases[compact]; ok {
		return indexLookup(alias)
	}
	if alias := windowsAlias(compact); alias != "" {
		return indexLookup(alias)
	}
	return nil
}

func indexLookup(label string) encoding.Encoding {
	if e, err := htmlindex.Get(label); err == nil && e != nil && e != encoding.Replacement {
		return e
	}
	for _, idx := range []*ianaindex.Index{ianaindex.MIME, ianaindex.IANA} {
		if e, err := idx.Encoding(label); err == nil && e != nil && e != encoding.Replacement {
			return e
		}
	}
	return nil
}

// windowsAlias maps "win1252", "cp1250", "ms1251", "xcp1252", "windows1252" to the
// Windows code page label.
func windowsAlias(compact string) string {
	for _, p := range []string{"windows", "win", "xcp", "cp", "ms"} {
		if rest, ok := strings.CutPrefix(compact, p); ok && len(rest) == 4 && rest[:3] == "125" && rest[3] >= '0' && rest[3] <= '8' {
			return "windows-" + rest
		}
	}
	return ""
}

// resolveCharset classifies a declared charset.
func resolveCharset(label string) (csKind, encoding.Encoding) {
	label = cleanLabel(label)
	compact := compactLabel(label)
	switch {
	case compact == "" || asciiLabels[compact]:
		return csUTF8, nil
	case compact == "utf7" || compact == "unicode11utf7" || compact == "csunicode11utf7" || compact == "xutf7":
		return csUTF7, nil
	}
	e := lookupCharset(label)
	switch e.(type) {
	case nil:
		return csUnknown, nil
	case *charmap.Charmap:
		return csSingle, e
	}
	switch e {
	case unicode.UTF8, unicode.UTF8BOM:
		return csUTF8, e
	}
	if strings.HasPrefix(compact, "utf16") || strings.HasPrefix(compact, "utf32") || compact == "unicode" || compact == "unicodefffe" {
		return csWide, e
	}
	return csMulti, e
}

// decodeText converts b, declared to be in charset (may be "", any case, with quotes or
// junk), to valid UTF-8 and normalises line endings to \n. It strips NUL and other C0
// controls except \t \n \r, and DEL (repairControl), and a leading byte order mark.
//
// Labels are not trusted: 8-bit bytes under UTF-8, US-ASCII or no label are read as
// Windows-1252 where they are not UTF-8, and valid multi-byte UTF-8 under a single-byte
// (or 8-bit multi-byte) label is read as UTF-8; both add repairCharset. Text that needed
// none of this gets no repair.
func decodeText(b []byte, charset string, r *repairs) string {
	return cleanText(convertText(b, charset, r), r)
}

func convertText(b []byte, charset string, r *repairs) string {
	kind, enc := resolveCharset(charset)
	switch kind {
	case csUTF8:
		if utf8.Valid(b) {
			return string(b)
		}
		r.add(repairCharset)
		return utf8OrWindows1252(b)
	case csSingle, csMulti:
		if hasHighBytes(b) && utf8.Valid(b) {
			r.add(repairCharset)
			return string(b)
		}
		return decodeWith(enc, b, r)
	case csWide:
		return decodeWith(enc, b, r)
	case csUTF7:
		return decodeUTF7(b, r)
	}
	if hasHighBytes(b) || bytes.IndexByte(b, 0x1b) >= 0 {
		// 7-bit text without escape sequences reads the same in every charset mail
		// uses, so only text that could come out wrong gets a note.
		r.add(repairCharsetUnknown)
	}
	return utf8OrWindows1252(b)
}

// decodeWith decodes with an x/text decoder; new replacement characters mean the bytes
// did not fit the label.
func decodeWith(enc encoding.Encoding, b []byte, r *repairs) string {
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		r.add(repairCharset)
		return utf8OrWindows1252(b)
	}
	if bytes.Contains(out, replacementChar) && !bytes.Contains(b, replacementChar) {
		r.add(repairCharset)
	}
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, replacementChar)
	}
	return string(out)
}

var replacementChar = []byte("\uFFFD")

func hasHighBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// utf8OrWindows1252 keeps every valid UTF-8 sequence of b and reads every other byte as
// Windows-1252, so that mail mixing both (a UTF-8 reply quoting a Windows-1252 message)
// keeps both readable.
func utf8OrWindows1252(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for len(b) > 0 {
		c := b[0]
		if c < utf8.RuneSelf {
			sb.WriteByte(c)
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			sb.WriteRune(charmap.Windows1252.DecodeByte(c))
			b = b[1:]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return sb.String()
}

// cleanText normalises line endings to \n, drops a leading byte order mark and removes C0
// controls other than \t and \n, and DEL (repairControl).
func cleanText(s string, r *repairs) string {
	s = strings.TrimPrefix(s, "\uFEFF")
	if !needsClean(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	ctl := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			sb.WriteByte('\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case isCtl(c):
			ctl = true
		default:
			sb.WriteByte(c)
		}
	}
	if ctl {
		r.add(repairControl)
	}
	return sb.String()
}

func needsClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCtl(s[i]) {
			return true
		}
	}
	return false
}

// isCtl reports whether c is a control character text may not keep: C0 other than tab
// and line feed, and DEL.
func isCtl(c byte) bool { return c < 0x20 && c != '\t' && c != '\n' || c == 0x7f }

// decodeUTF7 decodes UTF-7 (RFC 2152) leniently: a '+' that starts no valid run stays a
// '+', and 8-bit bytes (never valid UTF-7) are read as UTF-8 or Windows-1252, with
// repairCharset for either.
func decodeUTF7(b []byte, r *repairs) string {
	if hasHighBytes(b) {
		r.add(repairCharset)
		return utf8OrWindows1252(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != '+' {
			sb.WriteByte(b[i])
			continue
		}
		j := i + 1
		for j < len(b) && b64Table[b[j]] < 64 && b[j] != '-' && b[j] != '_' {
			j++
		}
		switch {
		case j == i+1 && j < len(b) && b[j] == '-':
			sb.WriteByte('+') // "+-"
		case j == i+1:
			sb.WriteByte('+')
			r.add(repairCharset)
		default:
			sb.WriteString(utf7Run(b[i+1 : j]))
		}
		i = j
		if j < len(b) && b[j] != '-' {
			i = j - 1 // implicit end of the run: the character is direct
		}
	}
	return sb.String()
}

// utf7Run decodes the modified base64 of one UTF-7 run to text.
func utf7Run(run []byte) string {
	units := make([]uint16, 0, len(run)*6/16)
	var acc uint32
	bits := 0
	for _, c := range run {
		acc = acc<<6 | uint32(b64Table[c])
		bits += 6
		if bits >= 16 {
			bits -= 16
			units = append(units, uint16(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	return string(utf16.Decode(units))
}
