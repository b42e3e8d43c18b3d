package ingest

import (
	"regexp"
	"strings"
)

// ZaakOptions configure how zaak numbers become onderwerpobjecten.
type ZaakOptions struct {
	// Patterns find zaak numbers in the subject and the text. A pattern with a capture
	// group yields the group, otherwise the whole match.
	Patterns []*regexp.Regexp
	// Uppercase writes found numbers in upper case ("zaak-2026-12" → "ZAAK-2026-12").
	Uppercase bool
	// The codes of the onderwerpobjectidentificator (default zaak / openzaak /
	// identificatie, as Open Klant's zaak notifications expect).
	CodeObjecttype    string
	CodeRegister      string
	CodeSoortObjectID string
	// Max is the largest number of zaken linked from one item (default 10).
	Max int

	filters []zaakFilter // by AddPattern
}

func (z ZaakOptions) codes(ch ChannelDefaults) Identificator {
	id := Identificator{CodeObjecttype: z.CodeObjecttype, CodeRegister: z.CodeRegister, CodeSoortObjectID: z.CodeSoortObjectID}
	if ch.ZaakCodes != nil {
		id = *ch.ZaakCodes
	}
	if id.CodeObjecttype == "" {
		id.CodeObjecttype = "zaak"
	}
	if id.CodeRegister == "" {
		id.CodeRegister = "openzaak"
	}
	if id.CodeSoortObjectID == "" {
		id.CodeSoortObjectID = "identificatie"
	}
	return id
}

// findZaken returns the distinct zaak numbers of an intake: the explicit ones first, then
// those the patterns find in the subject and then the text.
func findZaken(in *Intake, z ZaakOptions) []string {
	max := z.Max
	if max <= 0 {
		max = 10
	}
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		v = strings.TrimSpace(v)
		if z.Uppercase {
			v = strings.ToUpper(v)
		}
		if v == "" || seen[v] || len(out) >= max {
			return
		}
		seen[v] = true
		out = append(out, Clip(v, 200))
	}
	for _, v := range in.Zaaknummers {
		add(v)
	}
	filters := z.literalFilters()
	for _, text := range []string{in.Subject, in.Text} {
		for i, re := range z.Patterns {
			if !filters[i].mayMatch(text) {
				continue // cannot match: the same result, without trying every position
			}
			for _, m := range re.FindAllStringSubmatch(text, max) {
				if len(m) > 1 && m[1] != "" {
					add(m[1])
				} else {
					add(m[0])
				}
			}
		}
	}
	return out
}

// onderwerpobjecten returns what the klantcontact was about: the zaken it names and the
// earlier klantcontacten it answers.
func onderwerpobjecten(in *Intake, o *MapOptions, ch ChannelDefaults, kcID string) []Onderwerpobject {
	kc := Ref{UUID: kcID}
	var out []Onderwerpobject
	codes := o.Zaak.codes(ch)
	for _, nr := range findZaken(in, o.Zaak) {
		id := codes
		id.ObjectID = nr
		out = append(out, Onderwerpobject{UUID: ID(kcID, "onderwerpobject", "zaak", nr), Klantcontact: kc, Onderwerpobjectidentificator: &id})
	}
	for _, on := range in.Onderwerpen {
		id := Identificator{
			ObjectID: Clip(strings.TrimSpace(on.ObjectID), 200), CodeObjecttype: Clip(on.CodeObjecttype, 200),
			CodeRegister: Clip(on.CodeRegister, 200), CodeSoortObjectID: Clip(on.CodeSoortObjectID, 200),
		}
		if id.ObjectID == "" || id.CodeObjecttype == "" || id.CodeRegister == "" || id.CodeSoortObjectID == "" {
			continue
		}
		out = append(out, Onderwerpobject{UUID: ID(kcID, "onderwerpobject", id.CodeObjecttype, id.CodeRegister, id.ObjectID), Klantcontact: kc, Onderwerpobjectidentificator: &id})
	}
	seen := map[string]bool{kcID: true}
	for _, earlier := range in.Earlier {
		if !uuidRE.MatchString(earlier) || seen[earlier] {
			continue
		}
		seen[earlier] = true
		out = append(out, Onderwerpobject{UUID: ID(kcID, "onderwerpobject", "klantcontact", earlier), Klantcontact: kc, WasKlantcontact: &Ref{UUID: earlier}})
	}
	return out
}

// contactnaam is the betrokkene's name: split by the channel, or split here.
func contactnaam(s Sender) *Contactnaam {
	if c := s.Contactnaam; c != nil {
		n := Contactnaam{
			Voorletters: Clip(strings.TrimSpace(c.Voorletters), MaxVoorletters), Voornaam: Clip(strings.TrimSpace(c.Voornaam), MaxNaam),
			VoorvoegselAchternaam: Clip(strings.TrimSpace(c.VoorvoegselAchternaam), MaxVoorvoegsel), Achternaam: Clip(strings.TrimSpace(c.Achternaam), MaxNaam),
		}
		if n != (Contactnaam{}) {
			return &n
		}
	}
	return SplitName(s.Name)
}
