package ingest

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A zaak pattern like (?i)\bzaak-[0-9]{4}-[0-9]{4,10}\b has no literal prefix Go's regexp
// can search for, so it is tried at every position of a text: ~0.2 ms on 4 KB of mail.
// Most texts hold no zaak number, so a pattern first looks for a literal every match of it
// contains ("ZAAK-", case-folded as the pattern folds) and runs only when that is there.
// The results are the same: the check only skips patterns that cannot match.

// literalFilter is a literal every match of a pattern contains ("" when it has none).
type literalFilter struct {
	lit  string
	fold bool // compared as (?i) compares: by simple case folding
	// For fold: the literal's fold keys, and the bytes a match can begin with.
	key   []rune
	first *[256]bool
}

// AddPattern compiles a zaak pattern and adds it to Patterns, with the literal that
// every match of it contains worked out once (a pattern added to Patterns directly has
// it worked out for every item).
func (z *ZaakOptions) AddPattern(expr string) error {
	re, err := regexp.Compile(expr)
	if err != nil {
		return err
	}
	z.Patterns = append(z.Patterns, re)
	z.filters = append(z.filters, zaakFilter{re: re, f: requiredLiteral(re)})
	return nil
}

// zaakFilter is a pattern and its literal.
type zaakFilter struct {
	re *regexp.Regexp
	f  literalFilter
}

// literalFilters returns the literal of every pattern, worked out by AddPattern when it
// added the patterns as they are now.
func (z *ZaakOptions) literalFilters() []literalFilter {
	out := make([]literalFilter, len(z.Patterns))
	for i, re := range z.Patterns {
		if i < len(z.filters) && z.filters[i].re == re {
			out[i] = z.filters[i].f
		} else {
			out[i] = requiredLiteral(re)
		}
	}
	return out
}

// requiredLiteral returns the longest literal every match of re contains.
func requiredLiteral(re *regexp.Regexp) literalFilter {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return literalFilter{}
	}
	f := longestRequired(t)
	if f.fold && f.lit != "" {
		f.key, f.first = foldTable(f.lit)
	}
	return f
}

func longestRequired(t *syntax.Regexp) literalFilter {
	switch t.Op {
	case syntax.OpLiteral:
		return literalFilter{lit: string(t.Rune), fold: t.Flags&syntax.FoldCase != 0}
	case syntax.OpCapture, syntax.OpPlus:
		return longestRequired(t.Sub[0])
	case syntax.OpRepeat:
		if t.Min >= 1 {
			return longestRequired(t.Sub[0])
		}
	case syntax.OpConcat:
		var best literalFilter
		for _, s := range t.Sub {
			if l := longestRequired(s); len(l.lit) > len(best.lit) {
				best = l
			}
		}
		return best
	}
	return literalFilter{}
}

// mayMatch reports whether text contains the literal (always true without one).
func (f literalFilter) mayMatch(text string) bool {
	switch {
	case f.lit == "":
		return true
	case !f.fold:
		return strings.Contains(text, f.lit)
	}
	if f.key == nil {
		f.key, f.first = foldTable(f.lit)
	}
	return containsFold(text, f.key, f.first)
}

// foldTable returns the fold keys of lit's runes and the bytes a match of lit under
// (?i) can begin with: the first byte of every rune in the first rune's orbit (and any
// non-ASCII byte when that is U+FFFD, which invalid UTF-8 reads as).
func foldTable(lit string) ([]rune, *[256]bool) {
	key := make([]rune, 0, len(lit))
	for _, r := range lit {
		key = append(key, foldKey(r))
	}
	var first [256]bool
	r0 := key[0]
	for f := unicode.SimpleFold(r0); ; f = unicode.SimpleFold(f) {
		first[utf8.AppendRune(nil, f)[0]] = true
		if f == r0 {
			break
		}
	}
	if r0 == utf8.RuneError {
		for b := utf8.RuneSelf; b < len(first); b++ {
			first[b] = true
		}
	}
	return key, &first
}

// containsFold reports whether text contains the literal of fold keys key (first: its
// foldTable) with runes compared as regexp's (?i) does: equal when one is in the other's
// simple case-folding orbit (k, K and the Kelvin sign; s, S and the long s). Invalid
// UTF-8 reads as U+FFFD, as regexp reads it.
func containsFold(text string, key []rune, first *[256]bool) bool {
	// Trying a position inside a rune as well is harmless: it can only say "may match".
	for i := 0; i < len(text); i++ {
		if first[text[i]] && matchFoldAt(text[i:], key) {
			return true
		}
	}
	return false
}

func matchFoldAt(s string, key []rune) bool {
	for _, k := range key {
		if s == "" {
			return false
		}
		r, n := rune(s[0]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s)
		}
		if foldKey(r) != k {
			return false
		}
		s = s[n:]
	}
	return true
}

// foldKey is the smallest rune of r's simple case-folding orbit: two runes match under
// (?i) exactly when their keys are equal.
func foldKey(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A' // the orbits of ASCII letters hold nothing below 'A'
		}
		return r
	}
	k := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		k = min(k, f)
	}
	return k
}
