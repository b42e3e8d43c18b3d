package mail

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// paramsString shows params sorted as "k=v;k=v".
func paramsString(p map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		out = append(out, k+"="+p[k])
	}
	return strings.Join(out, ";")
}

func TestParseMediaType(t *testing.T) {
	tests := []struct {
		name, in, mt, params string
		repairs              repair
	}{
		// Legal: no repair.
		{"plain", "text/plain; charset=utf-8", "text/plain", "charset=utf-8", 0},
		{"case", `TEXT/Plain; CHARSET="UTF-8"`, "text/plain", "charset=UTF-8", 0},
		{"quoted boundary", `multipart/mixed; boundary="----=_Part_1_2.3"`, "multipart/mixed", "boundary=----=_Part_1_2.3", 0},
		{"folded", "multipart/alternative;\r\n\tboundary=\"b1\"", "multipart/alternative", "boundary=b1", 0},
		{"no space", "text/plain;charset=utf-8;format=flowed", "text/plain", "charset=utf-8;format=flowed", 0},
		{"spaces around =", "text/plain; charset = utf-8", "text/plain", "charset=utf-8", 0},
		{"comments", "text/plain (tekst); charset=us-ascii (ascii)", "text/plain", "charset=us-ascii", 0},
		{"quoted ;", `text/plain; name="a;b.txt"`, "text/plain", "name=a;b.txt", 0},
		{"quoted pair", `text/plain; name="a\"b"`, "text/plain", `name=a"b`, 0},
		{"empty quoted", `text/plain; name=""`, "text/plain", "name=", 0},
		{"attachment", `attachment; filename="rapport.pdf"`, "attachment", "filename=rapport.pdf", 0},
		{"inline", "inline", "inline", "", 0},
		{"empty", "", "", "", 0},
		{"RFC 2231", "attachment; filename*=utf-8''%C3%A9%C3%A9n.pdf", "attachment", "filename=één.pdf", 0},
		{"RFC 2231 language", "attachment; filename*=UTF-8'nl'%C3%A9.pdf", "attachment", "filename=é.pdf", 0},
		{"RFC 2231 latin-1", "attachment; filename*=iso-8859-1''caf%E9.pdf", "attachment", "filename=café.pdf", 0},
		{"RFC 2231 continuations", "attachment; filename*0*=utf-8''%C3%A9; filename*1*=%C3%A9n; filename*2=.pdf", "attachment", "filename=één.pdf", 0},
		{"RFC 2231 plain continuations", `attachment; filename*0="lang"; filename*1="e naam.pdf"`, "attachment", "filename=lange naam.pdf", 0},
		{"RFC 2231 beats plain", `attachment; filename="een.pdf"; filename*=utf-8''%C3%A9%C3%A9n.pdf`, "attachment", "filename=één.pdf", 0},
		{"RFC 2047 in quotes", `attachment; filename="=?utf-8?B?w6nDqW4ucGRm?="`, "attachment", "filename=één.pdf", 0},
		{"RFC 2047 in continuations", `attachment; filename*0="=?utf-8?B?w6nDqW4u"; filename*1="cGRm?="`, "attachment", "filename=één.pdf", 0},
		{"8-bit in quotes", "attachment; filename=\"\xc3\xa9.pdf\"", "attachment", "filename=é.pdf", 0},
		{"windows-1252 in quotes", "attachment; filename=\"caf\xe9.pdf\"", "attachment", "filename=café.pdf", 0},
		// Damaged: repairMIME.
		{"Outlook Express boundary", "multipart/alternative; boundary=----=_NextPart_000_0012_01D2", "multipart/alternative", "boundary=----=_NextPart_000_0012_01D2", 0}, // read alike by every client: no note
		{"boundary with space", "multipart/mixed; boundary=abc def", "multipart/mixed", "boundary=abc def", repairMIME},
		{"boundary with / and ?", "multipart/mixed; boundary=a/b?c; x=y", "multipart/mixed", "boundary=a/b?c;x=y", 0}, // read alike by every client: no note
		{"missing ; after type", "text/plain charset=utf-8", "text/plain", "charset=utf-8", repairMIME},
		{"missing ; between params", "text/plain; charset=utf-8 format=flowed", "text/plain", "charset=utf-8;format=flowed", repairMIME},
		{"duplicate", "text/plain; charset=utf-8; CHARSET=iso-8859-1", "text/plain", "charset=utf-8", repairMIME},
		{"no subtype", "text", "text/plain", "", repairMIME},
		{"empty subtype", "text/; charset=utf-8", "text/plain", "charset=utf-8", repairMIME},
		{"multipart without subtype", "multipart; boundary=x", "multipart/mixed", "boundary=x", repairMIME},
		{"image without subtype", "image", "application/octet-stream", "", repairMIME},
		{"two slashes", "text/plain/html", "text/plain", "", repairMIME},
		{"junk after value", `text/plain; charset="utf-8" junk`, "text/plain", "charset=utf-8", repairMIME},
		{"junk after type", "text/html junk; charset=utf-8", "text/html", "charset=utf-8", repairMIME},
		{"quoted type", `"text/html"; charset=utf-8`, "text/html", "charset=utf-8", repairMIME},
		{"trailing ;", "text/plain; charset=utf-8;", "text/plain", "charset=utf-8", 0}, // read alike by every client: no note
		{"double ;", "text/plain;; charset=utf-8", "text/plain", "charset=utf-8", repairMIME},
		{"param without value", "text/html;iso-8859-1", "text/html", "", repairMIME},
		{"empty value", "text/html; charset=", "text/html", "charset=", repairMIME},
		{"unterminated quote", `attachment; filename="rapport.pdf`, "attachment", "filename=rapport.pdf", repairMIME},
		{"unquoted RFC 2047", "attachment; filename==?utf-8?B?w6nDqW4ucGRm?=", "attachment", "filename=één.pdf", 0}, // read alike by every client: no note
		{"unquoted 8-bit", "attachment; filename=\xc3\xa9\xc3\xa9n.pdf", "attachment", "filename=één.pdf", 0},       // read alike by every client: no note
		{"no type", "charset=utf-8", "", "charset=utf-8", repairMIME},
		{"RFC 2231 bad escape", "attachment; filename*=utf-8''%ZZ.pdf", "attachment", "filename=%ZZ.pdf", repairMIME},
		{"RFC 2231 gap", "attachment; filename*0=a; filename*2=c", "attachment", "filename=ac", repairMIME},
		{"RFC 2231 no quotes", "attachment; filename*=%C3%A9.pdf", "attachment", "filename=é.pdf", repairMIME},
		{"RFC 2231 bad section", "attachment; filename*x=a", "attachment", "", repairMIME},
		{"RFC 2231 no name", "attachment; *=a", "attachment", "", repairMIME},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep repairs
			mt, params := parseMediaType(tc.in, &rep)
			if got := paramsString(params); mt != tc.mt || got != tc.params {
				t.Errorf("parseMediaType(%q) = %q, %q; want %q, %q", tc.in, mt, got, tc.mt, tc.params)
			}
			checkRepairs(t, fmt.Sprintf("parseMediaType(%q)", tc.in), &rep, tc.repairs)
		})
	}
}

func TestFindBoundary(t *testing.T) {
	long := strings.Repeat("b", 201)
	tests := []struct{ name, in, want string }{
		{"usual", "This is a multi-part message in MIME format.\r\n\r\n--abc\r\nContent-Type: text/plain\r\n\r\nhoi\r\n--abc--\r\n", "abc"},
		{"Outlook Express", "\r\n------=_NextPart_000_0012_01D2\r\nContent-Type: text/plain\r\n\r\nx\r\n------=_NextPart_000_0012_01D2\r\n", "----=_NextPart_000_0012_01D2"},
		{"first line not repeated", "--------Original Message--------\n--real\nx\n--real\ny\n--real--\n", "real"},
		{"only one", "--only\nContent-Type: text/plain\n\nhoi", "only"},
		{"trailing white space", "--abc  \r\nx\r\n--abc\t\r\n", "abc"},
		{"closing delimiter only repeats", "--abc\nx\n--abc--\n", "abc"},
		{"signature delimiter", "hoi\n-- \nJan\n", ""},
		{"too long", "--" + long + "\nx\n--" + long + "\n", ""},
		{"none", "geen grens\n", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := findBoundary([]byte(tc.in)); got != tc.want {
				t.Errorf("findBoundary(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
