package ingest_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/instroom/instroom/ingest"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"abc", 3, "abc", false},
		{"abcd", 3, "abc", true},
		{"ééé", 2, "éé", true},
		{"ééé", 3, "ééé", false}, // more bytes than max, not more runes
		{"éé\xff", 3, "éé\uFFFD", false},
		{"éé\xffx", 3, "éé\uFFFD", true},
		{"€uro", 1, "€", true},
		{"", 5, "", false},
		{"a\xffb", 10, "a\uFFFDb", false},
	}
	for _, tc := range tests {
		got, cut := ingest.Truncate(tc.in, tc.max)
		if got != tc.want || cut != tc.cut {
			t.Errorf("Truncate(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, got, cut, tc.want, tc.cut)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("hello wereld", 5)
	f.Add("€€€€", 2)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 10000 {
			return
		}
		got, cut := ingest.Truncate(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q: invalid UTF-8", s, max, got)
		}
		if n := utf8.RuneCountInString(got); n > max {
			t.Fatalf("Truncate(%q, %d) has %d runes", s, max, n)
		}
		valid := strings.ToValidUTF8(s, "\uFFFD")
		if !strings.HasPrefix(valid, got) {
			t.Fatalf("Truncate(%q, %d) = %q is not a prefix", s, max, got)
		}
		if cut != (got != valid) {
			t.Fatalf("Truncate(%q, %d) cut = %v, but result %q vs %q", s, max, cut, got, valid)
		}
	})
}

func TestValidEmail(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"jan@example.nl", true},
		{"jan.de.vries+kcc@sub.example.nl", true},
		{"a@b", false},
		{"a@@b.nl", false},
		{"jan@example..nl", false},
		{"jan@-example.nl", false},
		{"jan@example.123", false},
		{"jan example@example.nl", false},
		{"@example.nl", false},
		{"jan@", false},
		{strings.Repeat("a", 70) + "@example.nl", false}, // 81 characters
		{strings.Repeat("a", 69) + "@example.nl", true},  // 80 characters
	}
	for _, tc := range tests {
		if got := ingest.ValidEmail(tc.in); got != tc.want {
			t.Errorf("ValidEmail(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestValidPhone(t *testing.T) {
	for in, want := range map[string]bool{
		"0612345678": true, "+31612345678": true, "0031612345678": true,
		"0800123456": false, "0900123456": false, "06-12345678": false, "12345": false,
	} {
		if got := ingest.ValidPhone(in); got != want {
			t.Errorf("ValidPhone(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		in   string
		want *ingest.Contactnaam
	}{
		{"Jan de Vries", &ingest.Contactnaam{Voornaam: "Jan", VoorvoegselAchternaam: "de", Achternaam: "Vries"}},
		{"Jan Pieter Jansen", &ingest.Contactnaam{Voornaam: "Jan Pieter", Achternaam: "Jansen"}},
		{"J.P. van der Berg", &ingest.Contactnaam{Voorletters: "J.P.", VoorvoegselAchternaam: "van der", Achternaam: "Berg"}},
		{"Vries, Jan de", &ingest.Contactnaam{Voornaam: "Jan", VoorvoegselAchternaam: "de", Achternaam: "Vries"}},
		{"Mallory", &ingest.Contactnaam{Achternaam: "Mallory"}},
		{`"Anna Bakker"`, &ingest.Contactnaam{Voornaam: "Anna", Achternaam: "Bakker"}},
		{"jan@example.nl", nil},
		{"   ", nil},
	}
	for _, tc := range tests {
		got := ingest.SplitName(tc.in)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("SplitName(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestSplitNameLimits(t *testing.T) {
	cn := ingest.SplitName("Alexander " + strings.Repeat("x", 300))
	if cn == nil || utf8.RuneCountInString(cn.Achternaam) > 200 || utf8.RuneCountInString(cn.Voornaam) > 200 {
		t.Errorf("SplitName(long) = %+v, want fields within limits", cn)
	}
}

func TestSafeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd":       "passwd",
		`..\..\windows\evil.exe`: "evil.exe",
		"rapport.pdf":            "rapport.pdf",
		".hidden":                "hidden",
		"":                       "bestand",
		"a\x00b\nc.txt":          "abc.txt",
		"/":                      "bestand",
	} {
		if got := ingest.SafeFilename(in); got != want {
			t.Errorf("SafeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
