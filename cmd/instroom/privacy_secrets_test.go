package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// secretSet hands out distinct random secret strings ("GEHEIM-<16 hex>", random phone
// numbers) and remembers where each was seeded, so a text can be searched for all of them.
type secretSet struct {
	list []seeded
}

// seeded is one secret: where it went and the needles that must not appear anywhere. The
// needles are lower case letters and digits only: they are searched for in the text with
// everything else taken out, so a secret split by separators or quoting is still found.
type seeded struct {
	what    string
	value   string
	needles []string
	ref     bool // the name of an item in a drop zone: allowed as a dead letter's ref only
}

// word returns a new secret "GEHEIM-<hex>". Its needles are the whole hex and both ends of
// it (10 hex digits each), so a truncated copy is found too.
func (s *secretSet) word(what string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	h := hex.EncodeToString(b[:])
	v := "GEHEIM-" + h
	s.list = append(s.list, seeded{what: what, value: v, needles: []string{h, h[:10], h[6:]}})
	return v
}

// ref returns a new secret for the name of an item in a drop zone. The name is the item's
// reference, which a dead letter carries as ref for the operator; the log names the item
// by a hash of it (docs/OPERATIONS.md, "Logs"). It may appear in a dead letter's ref,
// nowhere else.
func (s *secretSet) ref(what string) string {
	v := s.word(what)
	s.list[len(s.list)-1].ref = true
	return v
}

// email returns a new address whose local part and domain are both secrets.
func (s *secretSet) email(what string) string {
	return strings.ToLower(s.word(what+" (local part)")) + "@" + strings.ToLower(s.word(what+" (domain)")) + ".example"
}

// phone returns a new Dutch mobile number as a person types it ("06 - 12 34 56 78"). Its
// needles are the number with the separators out, national and international.
func (s *secretSet) phone(what string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(90_000_000))
	if err != nil {
		panic(err)
	}
	d := fmt.Sprintf("%08d", n.Int64()+10_000_000)
	v := fmt.Sprintf("06 - %s %s %s %s", d[0:2], d[2:4], d[4:6], d[6:8])
	s.list = append(s.list, seeded{what: what, value: v, needles: []string{"06" + d, "316" + d}})
	return v
}

// privacyFlat is s in lower case with everything but letters and digits taken out.
func privacyFlat(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// privacyRefField is an item's reference in a dead letter.
var privacyRefField = regexp.MustCompile(`"ref":"(?:[^"\\]|\\.)*"`)

// leaks returns every seeded secret found in text, each with where it was seeded. A
// drop-zone name is looked for in the text without its references.
func (s *secretSet) leaks(text string) []string {
	flat, noRefs := privacyFlat(text), privacyFlat(privacyRefField.ReplaceAllString(text, ""))
	var out []string
	for _, sd := range s.list {
		in := flat
		if sd.ref {
			in = noRefs
		}
		for _, n := range sd.needles {
			if strings.Contains(in, n) {
				out = append(out, fmt.Sprintf("%s (%q)", sd.what, sd.value))
				break
			}
		}
	}
	return out
}

// contains reports whether text holds secret v (as seeded, or as its needles).
func (s *secretSet) contains(text, v string) bool {
	flat := privacyFlat(text)
	for _, sd := range s.list {
		if sd.value == v {
			return strings.Contains(flat, sd.needles[0])
		}
	}
	return false
}
