package mail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// fieldsString shows fields as "Key=Value|Key=Value".
func fieldsString(h header) string {
	var out []string
	for _, f := range h.fields {
		out = append(out, f.Key+"="+f.Value)
	}
	return strings.Join(out, "|")
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name, in, want, rest string
		repairs              repair
	}{
		{"CRLF", "From: a@b.nl\r\nSubject: Vraag\r\n\r\nbody", "From=a@b.nl|Subject=Vraag", "body", 0},
		{"LF", "From: a@b.nl\nSubject: Vraag\n\nbody\n", "From=a@b.nl|Subject=Vraag", "body\n", 0},
		{"folded", "Subject: een\r\n lange\r\n\tvraag\r\n\r\n", "Subject=een lange\tvraag", "", 0},
		{"folded empty first line", "Subject:\r\n  Vraag\r\n\r\n", "Subject=Vraag", "", 0},
		{"no space after colon", "Subject:Vraag\n\n", "Subject=Vraag", "", 0},
		{"internal white space kept", "Subject: a  b\t c  \n\n", "Subject=a  b\t c", "", 0},
		{"8-bit kept", "Subject: caf\xe9\n\n", "Subject=caf\xe9", "", 0},
		{"EOF without blank line", "From: a\r\nSubject: b", "From=a|Subject=b", "", 0},
		{"empty section", "\r\nbody", "", "body", 0},
		{"empty input", "", "", "", 0},
		{"obsolete white space before colon", "Subject : Vraag\n\n", "Subject=Vraag", "", repairHeader},
		{"continuation first", " stray\nSubject: a\n\n", "Subject=a", "", repairHeader},
		{"indented header line first", " X-Foo: bar\nSubject: a\n\n", "X-Foo=bar|Subject=a", "", repairHeader},
		{"line without colon", "Subject: een\nvraag\nFrom: a\n\nbody", "Subject=een vraag|From=a", "body", repairHeader},
		{"NUL", "Subj\x00ect: a\x00b\r\n\r\n", "Subject=ab", "", repairControl},
		{"DEL", "Subject: a\x7fb\r\n\r\n", "Subject=ab", "", repairControl},
		{"bare CR", "Subject: a\rb\r\n\r\n", "Subject=a b", "", 0},
		{"white space line then header", "Subject: a\n \nFrom: b\n\nbody", "Subject=a|From=b", "body", 0},
		{"white space line then body", "Subject: a\n \nbody text\n", "Subject=a", "body text\n", repairHeader},
		{"garbage line before header", "garbage\nFrom: a\n\nbody", "From=a", "body", repairHeader},
		{"no header section", "Hallo,\nik heb een vraag.\n", "", "Hallo,\nik heb een vraag.\n", repairHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep repairs
			br := bufio.NewReader(strings.NewReader(tc.in))
			h, err := readHeader(br, 1<<20, &rep)
			if err != nil {
				t.Fatalf("readHeader(%q) error = %v", tc.in, err)
			}
			if got := fieldsString(h); got != tc.want {
				t.Errorf("readHeader(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tc.rest {
				t.Errorf("readHeader(%q) left %q, want %q", tc.in, rest, tc.rest)
			}
			checkRepairs(t, fmt.Sprintf("readHeader(%q)", tc.in), &rep, tc.repairs)
		})
	}
}

func TestReadHeaderLimit(t *testing.T) {
	in := "From: a\r\n" + strings.Repeat("X-Spam: "+strings.Repeat("x", 100)+"\r\n", 100) + "\r\nbody"
	var rep repairs
	br := bufio.NewReader(strings.NewReader(in))
	h, err := readHeader(br, 1000, &rep)
	if err != nil {
		t.Fatalf("readHeader error = %v", err)
	}
	if got := h.Get("From"); got != "a" {
		t.Errorf("readHeader(over the limit).Get(From) = %q, want a", got)
	}
	if n := len(h.fields); n > 10 {
		t.Errorf("readHeader(over the limit) kept %d fields, want at most 10", n)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "body" {
		t.Errorf("readHeader(over the limit) left %q, want body", rest)
	}
	checkRepairs(t, "readHeader(over the limit)", &rep, repairLimits)

	// One line longer than the limit and the buffer.
	in = "Subject: " + strings.Repeat("y", 10000) + "\nFrom: b\n\nbody"
	rep = repairs{}
	br = bufio.NewReaderSize(strings.NewReader(in), 16)
	if _, err := readHeader(br, 1000, &rep); err != nil {
		t.Fatalf("readHeader(long line) error = %v", err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "body" {
		t.Errorf("readHeader(long line) left %q, want body", rest)
	}
	checkRepairs(t, "readHeader(long line)", &rep, repairLimits)
}

func TestReadHeaderSmallBuffer(t *testing.T) {
	in := "Subject: " + strings.Repeat("lang ", 50) + "\r\n vervolg\r\nFrom: a\r\n\r\nbody"
	br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16)
	var rep repairs
	h, err := readHeader(br, 0, &rep)
	if err != nil {
		t.Fatalf("readHeader error = %v", err)
	}
	if want := strings.Repeat("lang ", 50) + " vervolg"; h.Get("subject") != want {
		t.Errorf("readHeader(small buffer).Get(subject) = %q, want %q", h.Get("subject"), want)
	}
	checkRepairs(t, "readHeader(small buffer)", &rep, 0)
}

func TestReadHeaderIOError(t *testing.T) {
	boom := errors.New("boom")
	br := bufio.NewReader(io.MultiReader(strings.NewReader("From: a\r\nSubject: b"), iotest.ErrReader(boom)))
	h, err := readHeader(br, 0, nil)
	if !errors.Is(err, boom) {
		t.Errorf("readHeader(failing reader) error = %v, want %v", err, boom)
	}
	if h.Get("From") != "a" {
		t.Errorf("readHeader(failing reader).Get(From) = %q, want a", h.Get("From"))
	}
}

func TestHeaderGet(t *testing.T) {
	h := header{fields: []field{{"Received", "1"}, {"Subject", "s"}, {"received", "2"}}}
	if got := h.Get("RECEIVED"); got != "1" {
		t.Errorf("Get(RECEIVED) = %q, want 1", got)
	}
	if got := h.Values("Received"); strings.Join(got, ",") != "1,2" {
		t.Errorf("Values(Received) = %q, want [1 2]", got)
	}
	if got := h.Get("From"); got != "" {
		t.Errorf("Get(From) = %q, want empty", got)
	}
	if !h.Has("subject") || h.Has("from") {
		t.Errorf("Has(subject), Has(from) = %v, %v; want true, false", h.Has("subject"), h.Has("from"))
	}
}

func TestLooksLikeHeaderLine(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"Subject: x", true},
		{"Subject:", true},
		{"X-Custom_1.2: y", true},
		{"Subject : x", true},
		{"Subject\t: x", true},
		{"From foo@bar Mon Jan 1", false},
		{": x", false},
		{" Subject: x", false},
		{"Sub ject: x", false},
		{"Subjéct: x", false},
		{"Hallo daar", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := looksLikeHeaderLine([]byte(tc.line)); got != tc.want {
			t.Errorf("looksLikeHeaderLine(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestHeaderSkipPreamble(t *testing.T) {
	tests := []struct{ name, in, rest string }{
		{"none", "From: a\n\n", "From: a\n\n"},
		{"mbox", "From jan@example.nl Mon Nov  3 10:12:00 2026\nFrom: a\n\n", "From: a\n\n"},
		{"quoted mbox", ">From jan@example.nl\r\nSubject: a\r\n", "Subject: a\r\n"},
		{"Outlook banner", "-----Original Message-----\r\nFrom: a\r\n", "From: a\r\n"},
		{"export banner", "---- Original email message ----\n\nReceived: x\n", "Received: x\n"},
		{"blank lines", "\r\n\r\nFrom: a\r\n", "From: a\r\n"},
		{"BOM", "\xEF\xBB\xBFFrom: a\n", "From: a\n"},
		{"no header follows", "-----Original Message-----\nHallo\nFrom: a\n", "-----Original Message-----\nHallo\nFrom: a\n"},
		{"not mail", "Hallo daar\n", "Hallo daar\n"},
		{"too far", strings.Repeat("\n", 8) + "From: a\n", strings.Repeat("\n", 8) + "From: a\n"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			if err := skipPreamble(br); err != nil {
				t.Fatalf("skipPreamble(%q) error = %v", tc.in, err)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tc.rest {
				t.Errorf("skipPreamble(%q) left %q, want %q", tc.in, rest, tc.rest)
			}
		})
	}
}
