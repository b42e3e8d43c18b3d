package mail

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// FuzzHeader checks that readHeader never panics, never reads more than it is given,
// keeps keys that are field names, and that every value is valid text after
// decodeHeaderText.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"From: a@b.nl\r\nSubject: =?utf-8?Q?caf=C3=A9?=\r\n\r\nbody",
		"From jan Mon Nov  3\n>From x\n-----Original Message-----\nSubject : a\n b\nc\n \n\x00\n\nbody",
		" X: y\nZ\r\n\t\r\nA:\xe9\r\n",
		"garbage\nFrom: a\n\n",
	} {
		f.Add([]byte(s), uint16(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		if err := skipPreamble(br); err != nil {
			t.Fatalf("skipPreamble error = %v", err)
		}
		var rep repairs
		h, err := readHeader(br, int(limit), &rep)
		if err != nil {
			t.Fatalf("readHeader error = %v", err)
		}
		rest, _ := io.ReadAll(br)
		if len(rest) > len(data) || !bytes.HasSuffix(data, rest) {
			t.Fatalf("readHeader left %q of %q", rest, data)
		}
		for _, fl := range h.fields {
			if !looksLikeHeaderLine([]byte(fl.Key+":")) || strings.ContainsAny(fl.Key, " \t:") {
				t.Errorf("readHeader(%q) key %q is not a field name", data, fl.Key)
			}
			if strings.ContainsAny(fl.Value, "\r\n\x00\x7f") {
				t.Errorf("readHeader(%q) value %q has a line break or NUL", data, fl.Value)
			}
			if v := decodeHeaderText(fl.Value, &rep); !utf8.ValidString(v) {
				t.Errorf("decodeHeaderText(%q) = %q, not UTF-8", fl.Value, v)
			}
		}
	})
}

// transferEncodings are the Content-Transfer-Encodings FuzzTransfer tries.
var transferEncodings = []string{"base64", "quoted-printable", "x-uuencode", "7bit", "base-64", "x-bogus"}

// FuzzTransfer checks that every decoder takes any input without panicking, gives the same
// output for one-byte and large reads, and that encoded data round-trips without repairs.
func FuzzTransfer(f *testing.F) {
	for _, s := range []string{"SGk=\r\nQUJD\r\n", "caf=C3=A9 =\r\n=ZZ= \n", uuencode([]byte("hallo")), "", "\x00\xff="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cte := range transferEncodings {
			big, err := io.ReadAll(transferDecoder(bytes.NewReader(data), cte, nil))
			if err != nil {
				t.Fatalf("transferDecoder(%q, %s) error = %v", data, cte, err)
			}
			small, err := io.ReadAll(iotest.OneByteReader(transferDecoder(iotest.HalfReader(bytes.NewReader(data)), cte, nil)))
			if err != nil || !bytes.Equal(big, small) {
				t.Fatalf("transferDecoder(%q, %s) = %q, but %q, %v with small reads", data, cte, big, small, err)
			}
		}
		roundTrip(t, "base64", mimeBase64(data), data)
		roundTrip(t, "x-uuencode", []byte(uuencode(data)), data)
		var qp bytes.Buffer
		w := quotedprintable.NewWriter(&qp)
		w.Binary = true
		_, _ = w.Write(data)
		_ = w.Close()
		roundTrip(t, "quoted-printable", qp.Bytes(), data)
	})
}

func roundTrip(t *testing.T, cte string, enc, want []byte) {
	t.Helper()
	var rep repairs
	got, err := io.ReadAll(transferDecoder(bytes.NewReader(enc), cte, &rep))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("transferDecoder(%q, %s) = %q, %v; want %q", enc, cte, got, err, want)
	}
	checkRepairs(t, "transferDecoder("+cte+" round trip)", &rep, 0)
}

// FuzzMediaType checks that parseMediaType takes anything, agrees with mime.ParseMediaType
// on what both read without complaint, and reads what mime.FormatMediaType writes without
// a repair.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{
		"text/plain; charset=utf-8", "multipart/alternative; boundary=----=_NextPart_000", `attachment; filename*0*=utf-8''%C3%A9; filename*1="x"`,
		`text/plain (c); a="b\"c" d=e;`, "text", `attachment; filename="=?utf-8?B?w6k=?="`,
	} {
		f.Add(s, "text/plain", "name", "één rapport.pdf")
	}
	f.Fuzz(func(t *testing.T, s, typ, key, val string) {
		var rep repairs
		mt, params := parseMediaType(s, &rep)
		if mt != strings.ToLower(mt) {
			t.Errorf("parseMediaType(%q) type %q is not lower case", s, mt)
		}
		for k, v := range params {
			if k != strings.ToLower(k) || k != "boundary" && !utf8.ValidString(v) {
				t.Errorf("parseMediaType(%q) param %q=%q", s, k, v)
			}
		}
		if smt, sparams, err := mime.ParseMediaType(s); err == nil && rep.set == 0 && plainParams(sparams) {
			if smt != mt || paramsString(sparams) != paramsString(params) {
				t.Errorf("parseMediaType(%q) = %q, %q; mime.ParseMediaType gives %q, %q", s, mt, paramsString(params), smt, paramsString(sparams))
			}
		}
		formatted := mime.FormatMediaType(typ, map[string]string{key: val})
		if formatted == "" || strings.Contains(key, "*") || !utf8.ValidString(val) || strings.Contains(val, "=?") || strings.ContainsFunc(val, isControl) || !strings.Contains(typ, "/") {
			return
		}
		rep = repairs{}
		mt, params = parseMediaType(formatted, &rep)
		if k := strings.ToLower(key); mt != strings.ToLower(typ) || params[k] != val || len(params) != 1 {
			t.Errorf("parseMediaType(%q) = %q, %q; want %q, %s=%q", formatted, mt, paramsString(params), typ, k, val)
		}
		checkRepairs(t, "parseMediaType("+formatted+")", &rep, 0)
	})
}

// plainParams reports whether params hold only printable ASCII without encoded words, where
// parseMediaType and mime.ParseMediaType should agree.
func plainParams(params map[string]string) bool {
	for k, v := range params {
		if strings.Contains(v, "=?") || strings.ContainsFunc(k+v, func(r rune) bool { return r < ' ' || r > '~' }) {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// FuzzHeaderText checks that decodeHeaderText always gives one line of valid UTF-8
// without control characters, and leaves plain text alone without a repair.
func FuzzHeaderText(f *testing.F) {
	for _, s := range []string{
		"=?utf-8?B?w6nDqW4=?= =?utf-8?Q?_vraag?=", "=?utf-8?Q?caf=C3=A9", "=?x?b?w6k*?=", "caf\xe9", "=??q?=?=?a?b?",
		"=?iso-2022-jp?B?GyRCJDMkcyRLJEEkTxsoQg==?=", "Re: Vraag over de WOZ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var rep repairs
		got := decodeHeaderText(s, &rep)
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			t.Errorf("decodeHeaderText(%q) = %q", s, got)
		}
		if utf8.ValidString(s) && !strings.Contains(s, "=?") && !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			if got != s {
				t.Errorf("decodeHeaderText(%q) = %q, want it unchanged", s, got)
			}
			checkRepairs(t, "decodeHeaderText(plain)", &rep, 0)
		}
	})
}

// FuzzHTMLText checks that htmlText never panics and always gives tidy text.
func FuzzHTMLText(f *testing.F) {
	for _, s := range []string{outlookHTML, "<p>a<br>b</p><ul><li>c</ul><table><tr><td>d<td>e</table>", `<a href="x">y</a><pre> z </pre>`, "<head><title>t</title>x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := htmlText(s)
		if got != strings.TrimSpace(got) || strings.Contains(got, "\n\n\n") || strings.Contains(got, " \n") {
			t.Errorf("htmlText(%q) = %q, not tidy", s, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Errorf("htmlText(%q) = %q, not UTF-8", s, got)
		}
	})
}

// BenchmarkBase64DecodeStdlib is the reference for BenchmarkBase64Decode: the standard
// library's (strict) streaming decoder on the same input.
func BenchmarkBase64DecodeStdlib(b *testing.B) {
	data := bytes.Repeat([]byte("Geachte heer, één vraag over de WOZ-beschikking. "), 16<<20/50)
	enc := mimeBase64(data)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, base64.NewDecoder(base64.StdEncoding, bytes.NewReader(enc))); err != nil {
			b.Fatal(err)
		}
	}
}
