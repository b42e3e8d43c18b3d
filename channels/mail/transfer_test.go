package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeAll reads everything transferDecoder gives for in.
func decodeAll(t testing.TB, in, cte string, rep *repairs) string {
	t.Helper()
	out, err := io.ReadAll(transferDecoder(strings.NewReader(in), cte, rep))
	if err != nil {
		t.Fatalf("reading transferDecoder(%q, %q): %v", in, cte, err)
	}
	return string(out)
}

func TestTransferIdentity(t *testing.T) {
	for _, cte := range []string{"", "7bit", "8BIT", " binary ", `"7bit"`, "7bit (comment)"} {
		var rep repairs
		r := strings.NewReader("caf\xe9 =41")
		if got := transferDecoder(r, cte, &rep); got != io.Reader(r) {
			t.Errorf("transferDecoder(r, %q) = %T, want r itself", cte, got)
		}
		checkRepairs(t, "transferDecoder("+cte+")", &rep, 0)
	}
	var rep repairs
	if got := decodeAll(t, "caf\xe9 =41", "x-bogus", &rep); got != "caf\xe9 =41" {
		t.Errorf("transferDecoder(x-bogus) = %q, want the input", got)
	}
	checkRepairs(t, "transferDecoder(x-bogus)", &rep, repairEncoding)
}

func TestTransferBase64(t *testing.T) {
	tests := []struct {
		name, in, cte, want string
		repairs             repair
	}{
		{"plain", "SGFsbG8gd2VyZWxk", "base64", "Hallo wereld", 0},
		{"upper case", "SGFsbG8=", "BASE64", "Hallo", 0},
		{"MIME lines", "SGFs\r\nbG8g\r\nd2Vy\r\nZWxk\r\n", "base64", "Hallo wereld", 0},
		{"LF and spaces", " SGFsbG8g\n\td2VyZWxk \n", "base64", "Hallo wereld", 0},
		{"padding", "SGk=", "base64", "Hi", 0},
		{"concatenated", "QUJDRA==\r\nQUJDRA==\r\nQUJDRA==\r\n", "base64", "ABCDABCDABCD", 0},
		{"padding mid-line", "SGk=SGk=", "base64", "HiHi", 0},
		{"extra padding", "SGk===", "base64", "Hi", 0},
		{"URL-safe", "-_-_", "base64", "\xfb\xff\xbf", 0},
		{"empty", "", "base64", "", 0},
		{"junk", "SGFs*bG8=!", "base64", "Hallo", repairEncoding},
		{"truncated 3", "SGFsbG8", "base64", "Hallo", repairTruncated},
		{"truncated 2", "SGFsbA", "base64", "Hall", repairTruncated},
		{"truncated 1", "SGFsbG8gd", "base64", "Hallo ", repairTruncated | repairEncoding},
		{"lost bits at padding", "SGk=Q=SGk=", "base64", "HiHi", repairEncoding},
		{"base-64", "SGk=", "base-64", "Hi", repairEncoding},
		{"Base 64", "SGk=", "Base 64", "Hi", repairEncoding},
		{"b64", "SGk=", "b64", "Hi", repairEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep repairs
			if got := decodeAll(t, tc.in, tc.cte, &rep); got != tc.want {
				t.Errorf("transferDecoder(%q, %q) = %q, want %q", tc.in, tc.cte, got, tc.want)
			}
			checkRepairs(t, "transferDecoder("+tc.name+")", &rep, tc.repairs)
		})
	}
}

// mimeBase64 encodes b as base64 in lines of 76 characters with CRLF.
func mimeBase64(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc + "\r\n")
	return out.Bytes()
}

func TestTransferBase64Stream(t *testing.T) {
	data := make([]byte, 200_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	enc := mimeBase64(data)
	var rep repairs
	// iotest.TestReader reads with several buffer sizes, including 1 byte.
	if err := iotest.TestReader(transferDecoder(bytes.NewReader(enc), "base64", &rep), data); err != nil {
		t.Errorf("transferDecoder(base64) stream: %v", err)
	}
	got, err := io.ReadAll(transferDecoder(iotest.OneByteReader(bytes.NewReader(enc)), "base64", &rep))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("transferDecoder(OneByteReader(base64)) = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	checkRepairs(t, "transferDecoder(base64 stream)", &rep, 0)
}

func TestTransferIOError(t *testing.T) {
	boom := errors.New("boom")
	for _, cte := range []string{"base64", "quoted-printable", "x-uuencode"} {
		r := io.MultiReader(strings.NewReader("begin 644 x\nSGk=\n"), iotest.ErrReader(boom))
		if _, err := io.ReadAll(transferDecoder(r, cte, nil)); !errors.Is(err, boom) {
			t.Errorf("transferDecoder(failing reader, %q) error = %v, want %v", cte, err, boom)
		}
	}
}

func TestTransferQuotedPrintable(t *testing.T) {
	tests := []struct {
		name, in, want string
		repairs        repair
	}{
		{"escapes", "caf=C3=A9", "café", 0},
		{"lower-case hex", "caf=c3=a9", "café", 0},
		{"soft break CRLF", "Geachte=\r\n heer", "Geachte heer", 0},
		{"soft break LF", "Gea=\nchte", "Geachte", 0},
		{"soft break with white space", "Gea= \t\r\nchte", "Geachte", 0},
		{"soft break at the end", "abc=", "abc", 0},
		{"trailing white space", "abc  \r\ndef\t\nx ", "abc\r\ndef\nx", 0},
		{"inner white space", "a  b\tc", "a  b\tc", 0},
		{"encoded white space", "abc=20\r\n", "abc \r\n", 0},
		{"line endings kept", "a\r\nb\nc", "a\r\nb\nc", 0},
		{"8-bit kept", "caf\xe9", "caf\xe9", 0},
		{"bad escape", "100=ZZ", "100=ZZ", repairEncoding},
		{"half escape", "a=4g", "a=4g", repairEncoding},
		{"half escape at the end", "a=4", "a=4", repairEncoding},
		{"= and a space in text", "1 = 1", "1 = 1", repairEncoding},
		{"quotedprintable", "caf=C3=A9", "café", repairEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cte := "quoted-printable"
			if tc.name == "quotedprintable" {
				cte = "QuotedPrintable"
			}
			var rep repairs
			if got := decodeAll(t, tc.in, cte, &rep); got != tc.want {
				t.Errorf("transferDecoder(%q, %s) = %q, want %q", tc.in, cte, got, tc.want)
			}
			checkRepairs(t, "transferDecoder("+tc.name+")", &rep, tc.repairs)
			var rep1 repairs
			got, err := io.ReadAll(transferDecoder(iotest.OneByteReader(strings.NewReader(tc.in)), cte, &rep1))
			if err != nil || string(got) != tc.want {
				t.Errorf("transferDecoder(OneByteReader(%q)) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// uuencode encodes b as uuencode with begin and end lines.
func uuencode(b []byte) string {
	var sb strings.Builder
	sb.WriteString("begin 644 bijlage.bin\n")
	enc := func(v byte) byte {
		if v&63 == 0 {
			return '`'
		}
		return v&63 + 0x20
	}
	for len(b) > 0 {
		n := min(45, len(b))
		line := b[:n]
		b = b[n:]
		sb.WriteByte(enc(byte(n)))
		for i := 0; i < n; i += 3 {
			var q [3]byte
			copy(q[:], line[i:min(i+3, n)])
			sb.Write([]byte{enc(q[0] >> 2), enc(q[0]<<4 | q[1]>>4), enc(q[1]<<2 | q[2]>>6), enc(q[2])})
		}
		sb.WriteByte('\n')
	}
	sb.WriteString("`\nend\n")
	return sb.String()
}

func TestTransferUUencode(t *testing.T) {
	data := "Geachte heer, één vraag over de WOZ-beschikking.\nMet vriendelijke groet."
	full := uuencode([]byte(data))
	tests := []struct {
		name, in, cte, want string
		repairs             repair
	}{
		{"x-uuencode", full, "x-uuencode", data, 0},
		{"uuencode", full, "uuencode", data, 0},
		{"x-uue with text before", "Zie bijlage.\n\n" + full + "trailing\n", "x-uue", data, repairEncoding},
		{"CRLF", strings.ReplaceAll(full, "\n", "\r\n"), "x-uuencode", data, 0},
		{"no end", strings.TrimSuffix(full, "`\nend\n"), "x-uuencode", data, repairTruncated},
		{"no begin", strings.TrimPrefix(full, "begin 644 bijlage.bin\n"), "x-uuencode", data, repairEncoding},
		{"empty", "", "x-uuencode", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep repairs
			if got := decodeAll(t, tc.in, tc.cte, &rep); got != tc.want {
				t.Errorf("transferDecoder(%q, %q) = %q, want %q", tc.in, tc.cte, got, tc.want)
			}
			checkRepairs(t, "transferDecoder("+tc.name+")", &rep, tc.repairs)
		})
	}
}

// BenchmarkBase64Decode measures the streaming base64 decoder on 16 MiB of attachment
// data in MIME lines (bytes/s are of the encoded input).
func BenchmarkBase64Decode(b *testing.B) {
	data := make([]byte, 16<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	enc := mimeBase64(data)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		r := transferDecoder(bytes.NewReader(enc), "base64", nil)
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuotedPrintableDecode measures the quoted-printable decoder on Dutch text.
func BenchmarkQuotedPrintableDecode(b *testing.B) {
	line := "Geachte heer, =C3=A9=C3=A9n vraag over de WOZ-beschikking van mijn wonin=\r\ng aan de Dorpsstraat.\r\n"
	enc := []byte(strings.Repeat(line, 100_000))
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, transferDecoder(bytes.NewReader(enc), "quoted-printable", nil)); err != nil {
			b.Fatal(err)
		}
	}
}
