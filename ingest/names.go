package ingest

import (
	"regexp"
	"strings"
)

// Dutch surname prefixes (tussenvoegsels), lower case.
var voorvoegsels = map[string]bool{
	"van": true, "de": true, "der": true, "den": true, "het": true, "'t": true, "ter": true, "ten": true,
	"te": true, "in": true, "op": true, "aan": true, "uit": true, "von": true, "zu": true, "du": true,
	"la": true, "le": true, "d'": true, "'s": true, "bij": true, "onder": true, "over": true, "tot": true,
}

var initialsRE = regexp.MustCompile(`^(\p{Lu}\.)+(\p{Lu})?$|^\p{Lu}$`)

// SplitName splits a display name ("Jan de Vries", "J.P. van der Berg", "Vries, Jan de")
// into a contactnaam. It returns nil when there is no usable name (empty, or an address).
func SplitName(name string) *Contactnaam {
	name = strings.TrimSpace(collapseSpace(strings.Trim(strings.TrimSpace(name), `"'`)))
	name = strings.ToValidUTF8(name, "")
	if name == "" || strings.Contains(name, "@") {
		return nil
	}
	var first, rest []string
	if i := strings.IndexByte(name, ','); i > 0 {
		// "Achternaam, Voornaam voorvoegsel"
		last := strings.Fields(name[:i])
		given := strings.Fields(name[i+1:])
		var pre []string
		for len(given) > 1 && voorvoegsels[strings.ToLower(given[len(given)-1])] {
			pre = append([]string{given[len(given)-1]}, pre...)
			given = given[:len(given)-1]
		}
		first = given
		rest = append(pre, last...)
	} else {
		f := strings.Fields(name)
		if len(f) == 1 {
			return &Contactnaam{Achternaam: Clip(f[0], MaxNaam)}
		}
		// Given names: everything up to the first prefix, but at least the first word and
		// never the last word.
		n := 1
		for n < len(f)-1 && !voorvoegsels[strings.ToLower(f[n])] {
			n++
		}
		if n == len(f)-1 && !voorvoegsels[strings.ToLower(f[n-1])] {
			n = len(f) - 1
		}
		first, rest = f[:n], f[n:]
	}
	cn := &Contactnaam{}
	given := strings.Join(first, " ")
	if len(first) == 1 && initialsRE.MatchString(strings.ReplaceAll(given, " ", "")) {
		cn.Voorletters = Clip(given, MaxVoorletters)
	} else {
		cn.Voornaam = Clip(given, MaxNaam)
	}
	var pre []string
	for len(rest) > 1 && voorvoegsels[strings.ToLower(rest[0])] {
		pre = append(pre, rest[0])
		rest = rest[1:]
	}
	p := strings.Join(pre, " ")
	if len([]rune(p)) > MaxVoorvoegsel {
		rest = append(pre, rest...)
		p = ""
	}
	cn.VoorvoegselAchternaam = p
	cn.Achternaam = Clip(strings.Join(rest, " "), MaxNaam)
	if *cn == (Contactnaam{}) {
		return nil
	}
	return cn
}
