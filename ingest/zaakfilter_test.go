package ingest

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestLiteralFilterNeverHidesAMatch checks the prefilter of zaak patterns against the
// regexp itself: whenever a pattern matches a text, its filter must say it may.
func TestLiteralFilterNeverHidesAMatch(t *testing.T) {
	patterns := []string{
		`(?i)\bzaak-[0-9]{4}-[0-9]{4,10}\b`, `(?i)\bz-[0-9]{4}-[0-9]{4,10}\b`, // the defaults
		`(?i)zaaknummer:?\s*([a-z0-9-]+)`, `ZK(\d+)`, `(?i)(?:zaak|dossier)-\d+`, `\d{6}`,
		`(?i)(ks)+-\d`, `(?i)\x{FFFD}k`, `(?:ab){2,}x`, `a?zaak`,
	}
	alphabet := []string{"z", "Z", "a", "A", "k", "K", "\u212a", "s", "S", "\u017f", "-", "0", "1", "9", " ", ":",
		"\xff", "\xe2\x84", "\ufffd", "é", "x", "b", "ab", "zaak-2026-", "ZAAK", "z-", "12345", "dossier", "Zaaknummer:"}
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "Zaak-2026-1234", "zaa\u212a-2026-12345", "z-2026-00001 en ZAAK-2025-12345678", "ZK42", "\xffk", "\ufffdK"}
	for range 6000 {
		var sb strings.Builder
		for range rng.IntN(24) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, sb.String())
	}
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		f := requiredLiteral(re)
		matched := 0
		for _, text := range texts {
			if re.MatchString(text) {
				matched++
				if !f.mayMatch(text) {
					t.Errorf("pattern %s matches %q but its filter %+v says it cannot", p, text, f)
				}
			}
		}
		if matched == 0 {
			t.Errorf("pattern %s matched none of the texts: the test proves nothing for it", p)
		}
	}
	if f := requiredLiteral(regexp.MustCompile(patterns[0])); f.lit != "ZAAK-" || !f.fold {
		t.Errorf("filter of the default pattern = %+v, want the folded literal ZAAK-", f)
	}
	if requiredLiteral(regexp.MustCompile(patterns[0])).mayMatch("Geachte heer, mevrouw, mijn aanvraag van 12 november") {
		t.Error("the filter lets a text without the literal through")
	}
}

// TestAddPatternFindsTheSame: patterns added with AddPattern (literal worked out once)
// find what the same patterns set directly find, and a pattern swapped in after
// AddPattern is not judged by the literal of the one it replaced.
func TestAddPatternFindsTheSame(t *testing.T) {
	in := &Intake{Subject: "Vraag over zaak-2026-000123", Text: "Zie ook Z-2025-98765 en ZAAK-2024-1111."}
	var added ZaakOptions
	for _, p := range []string{`(?i)\bzaak-[0-9]{4}-[0-9]{4,10}\b`, `(?i)\bz-[0-9]{4}-[0-9]{4,10}\b`} {
		if err := added.AddPattern(p); err != nil {
			t.Fatal(err)
		}
	}
	direct := ZaakOptions{Patterns: append([]*regexp.Regexp(nil), added.Patterns...)}
	got, want := findZaken(in, added), findZaken(in, direct)
	if strings.Join(got, ",") != strings.Join(want, ",") || len(got) != 3 {
		t.Fatalf("AddPattern found %q, Patterns found %q; want the same three", got, want)
	}
	added.Patterns[1] = regexp.MustCompile(`(\d{5})`) // no literal: must still run
	if got := findZaken(in, added); !strings.Contains(strings.Join(got, ","), "98765") {
		t.Errorf("after replacing a pattern: %q, want 98765 among them", got)
	}
	if err := added.AddPattern(`(`); err == nil {
		t.Error("AddPattern accepted an invalid pattern")
	}
}
