package mail

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// repairNames names the repairs in a set, for failure messages.
func repairNames(set repair) string {
	names := []string{"header", "control", "encoding", "truncated", "mime", "charset", "charsetUnknown", "words", "limits", "textCut", "signed", "encrypted"}
	var out []string
	for i, n := range names {
		if set&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "|")
}

// checkRepairs fails t unless rep holds exactly want: every repair case asserts its flag,
// and every legal case asserts that there is none (no false notes for the KCC).
func checkRepairs(t *testing.T, call string, rep *repairs, want repair) {
	t.Helper()
	if rep.set != want {
		t.Errorf("%s repairs = %s, want %s", call, repairNames(rep.set), repairNames(want))
	}
}

// mustEncode encodes s with enc, for test input in legacy charsets.
func mustEncode(t *testing.T, enc encoding.Encoding, s string) string {
	t.Helper()
	b, err := enc.NewEncoder().String(s)
	if err != nil {
		t.Fatalf("encoding %q: %v", s, err)
	}
	return b
}

const woz = "Geachte heer, één vraag over de WOZ-beschikking"

func TestDecodeTextCharset(t *testing.T) {
	tests := []struct {
		name, in, charset, want string
		repairs                 repair
	}{
		{"utf-8 Dutch", woz, "utf-8", woz, 0},
		{"UTF-8 quoted", woz, `"UTF-8"`, woz, 0},
		{"utf8 alias", woz, "utf8", woz, 0},
		{"no label, UTF-8", woz, "", woz, 0},
		{"us-ascii, ASCII", "Geachte heer", "us-ascii", "Geachte heer", 0},
		{"utf-8, ASCII", "Geachte heer,\r\nMijn vraag.", "utf-8", "Geachte heer,\nMijn vraag.", 0},
		{"iso-8859-1, ASCII", "Geachte heer", "iso-8859-1", "Geachte heer", 0},
		{"label with junk", woz, `utf-8"; format=flowed`, woz, 0},
		{"UTF-8 declared iso-8859-1", woz, "iso-8859-1", woz, repairCharset},
		{"UTF-8 declared windows-1252", "caf\xc3\xa9", "windows-1252", "café", repairCharset},
		{"windows-1252 declared utf-8", "\x80 10, caf\xe9", "utf-8", "€ 10, café", repairCharset},
		{"windows-1252, no label", "caf\xe9", "", "café", repairCharset},
		{"windows-1252 declared us-ascii", "caf\xe9", "us-ascii", "café", repairCharset},
		{"UTF-8 with a stray windows-1252 byte", "één \x80", "utf-8", "één €", repairCharset},
		{"iso-8859-1 read as windows-1252", "\x80 10, caf\xe9", "ISO-8859-1", "€ 10, café", 0},
		{"latin1", "caf\xe9", "latin1", "café", 0},
		{"windows-1252", "caf\xe9 \x93x\x94", "windows-1252", "café “x”", 0},
		{"cp1252", "caf\xe9", "cp1252", "café", 0},
		{"win-1252", "caf\xe9", "win-1252", "café", 0},
		{"iso-8859-15", "\xa4 5", "iso-8859-15", "€ 5", 0},
		{"koi8-r", mustEncode(t, charmap.KOI8R, "Привет"), "koi8-r", "Привет", 0},
		{"iso-2022-jp", mustEncode(t, japanese.ISO2022JP, "こんにちは、世界"), "ISO-2022-JP", "こんにちは、世界", 0},
		{"shift_jis", mustEncode(t, japanese.ShiftJIS, "こんにちは"), "shift_jis", "こんにちは", 0},
		{"x-sjis", mustEncode(t, japanese.ShiftJIS, "日本語"), "x-sjis", "日本語", 0},
		{"euc-kr", mustEncode(t, korean.EUCKR, "안녕하세요"), "euc-kr", "안녕하세요", 0},
		{"ks_c_5601-1987", mustEncode(t, korean.EUCKR, "안녕하세요"), "ks_c_5601-1987", "안녕하세요", 0},
		{"gb2312", mustEncode(t, simplifiedchinese.GBK, "你好"), "gb2312", "你好", 0},
		{"gb18030", mustEncode(t, simplifiedchinese.GB18030, "你好"), "GB18030", "你好", 0},
		{"big5", mustEncode(t, traditionalchinese.Big5, "你好"), "big5", "你好", 0},
		{"utf-16 with BOM", mustEncode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), "één"), "utf-16", "één", 0},
		{"utf-16be without BOM", mustEncode(t, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "één"), "UTF-16BE", "één", 0},
		{"broken shift_jis", "\x82", "shift_jis", "\uFFFD", repairCharset},
		{"UTF-8 declared iso-2022-jp", "日本", "iso-2022-jp", "日本", repairCharset},
		{"UTF-8 declared gb2312", "één", "gb2312", "één", repairCharset},
		{"unknown label, UTF-8", "één", "x-unknown", "één", repairCharsetUnknown},
		{"unknown label, windows-1252", "caf\xe9", "x-unknown", "café", repairCharsetUnknown},
		{"unknown label, ASCII", "Geachte heer", "x-unknown", "Geachte heer", 0},
		{"iso-2022-kr is unknown", "\x1b$)Cabc", "iso-2022-kr", "$)Cabc", repairCharsetUnknown | repairControl},
		{"utf-7", "Hi Mom -+Jjo--!", "unicode-1-1-utf-7", "Hi Mom -☺-!", 0},
		{"utf-7 implicit end", "+AOk-t+AOk.", "utf-7", "été.", 0},
		{"utf-7 plus", "1 +- 1", "utf-7", "1 + 1", 0},
		{"utf-7 bad plus", "a+!", "utf-7", "a+!", repairCharset},
		{"CRLF", "a\r\nb\rc\n", "utf-8", "a\nb\nc\n", 0},
		{"tab kept", "a\tb", "utf-8", "a\tb", 0},
		{"NUL and BEL", "a\x00b\x07c", "utf-8", "abc", repairControl},
		{"DEL", "KS-0417\x7f", "utf-8", "KS-0417", repairControl},
		{"UTF-16 NUL", mustEncode(t, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "a\x00b"), "utf-16be", "ab", repairControl},
		{"BOM", "\uFEFFhallo", "utf-8", "hallo", 0},
		{"empty", "", "utf-8", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep repairs
			got := decodeText([]byte(tc.in), tc.charset, &rep)
			if got != tc.want {
				t.Errorf("decodeText(%q, %q) = %q, want %q", tc.in, tc.charset, got, tc.want)
			}
			checkRepairs(t, "decodeText("+tc.name+")", &rep, tc.repairs)
		})
	}
}

func TestCharsetNilRepairs(t *testing.T) {
	if got := decodeText([]byte("caf\xe9"), "utf-8", nil); got != "café" {
		t.Errorf("decodeText(caf\\xe9, utf-8, nil) = %q, want café", got)
	}
}

func TestLookupCharset(t *testing.T) {
	tests := []struct {
		label string
		want  encoding.Encoding
	}{
		{"utf-8", unicode.UTF8},
		{"UTF8", unicode.UTF8},
		{`"utf-8"`, unicode.UTF8},
		{"iso-8859-1", charmap.Windows1252},
		{"ISO_8859-1:1987", charmap.Windows1252},
		{"latin1", charmap.Windows1252},
		{"cp1252", charmap.Windows1252},
		{"win-1252", charmap.Windows1252},
		{"Windows1250", charmap.Windows1250},
		{"iso-8859-2", charmap.ISO8859_2},
		{"iso-8859-15", charmap.ISO8859_15},
		{"cp850", charmap.CodePage850},
		{"koi8-r", charmap.KOI8R},
		{"ks_c_5601-1987", korean.EUCKR},
		{"euc-kr", korean.EUCKR},
		{"x-sjis", japanese.ShiftJIS},
		{"shift_jis", japanese.ShiftJIS},
		{"iso-2022-jp", japanese.ISO2022JP},
		{"gb2312", simplifiedchinese.GBK},
		{"big5", traditionalchinese.Big5},
		{"unicode-1-1-utf-7", nil},
		{"iso-2022-kr", nil},
		{"x-user-defined", nil},
		{"bogus", nil},
		{"", nil},
	}
	for _, tc := range tests {
		if got := lookupCharset(tc.label); got != tc.want {
			t.Errorf("lookupCharset(%q) = %v, want %v", tc.label, got, tc.want)
		}
	}
	if lookupCharset("utf-16") == nil {
		t.Errorf("lookupCharset(utf-16) = nil, want an encoding")
	}
}
