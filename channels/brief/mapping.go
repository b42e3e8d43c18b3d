package brief

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/instroom/instroom/ingest"
)

// The default interne taak of a letter when no routing rule matches (contracts/
// intake-api.md §9, C2138).
const (
	defaultHandeling   = "Lezen en bepalen benodigde actie"
	defaultToelichting = "Aangemaakt naar aanleiding van een ontvangen brief"
)

// futureSlack is how far gescandOp may lie after the receipt before the receipt time is
// used instead (a scanner with a wrong clock).
const futureSlack = 24 * time.Hour

// letter is what a letter's intake is made of.
type letter struct {
	sidecar  *Sidecar
	raw      []byte // the sidecar as delivered
	vendor   string
	received time.Time
	scan     ingest.Content
	text     string
	notes    []string
}

// identity is the channel identity of a letter: vendor and scanId, so the same scanId
// from two vendors is two letters (contracts/intake-api.md §10).
func identity(vendor, scanID string) string { return vendor + "\x1f" + scanID }

// letterIntake maps a letter to a channel-neutral intake, per the "Letters" table of
// contracts/intake-api.md §9. Limits are applied by ingest.Map.
func letterIntake(l letter) *ingest.Intake {
	sc := l.sidecar
	in := &ingest.Intake{
		Channel: Channel, Identity: identity(l.vendor, sc.ScanID),
		Subject: onderwerp(sc, l.text), Text: l.text,
		SentAt: scannedAt(sc.GescandOp, l.received), ReceivedAt: l.received.UTC(),
		Metadata: metadata(sc, l.vendor), Signals: signals(sc, l.vendor),
		Original: l.scan, Notes: l.notes, Taal: sc.Taal, Vertrouwelijk: sc.Vertrouwelijk, KeepText: true,
		DefaultTasks: []ingest.TaskSpec{{GevraagdeHandeling: defaultHandeling, Toelichting: defaultToelichting, EenheidKeys: []string{"kcc"}}},
	}
	delivery := ingest.BytesContent(sc.ScanID+".json", "application/json", l.raw)
	in.Delivery = &delivery
	if sc.Zaaknummer != "" {
		in.Zaaknummers = []string{sc.Zaaknummer}
	}
	if a := sc.Afzender; a != nil {
		in.Sender = sender(a)
	}
	return in
}

// scannedAt is gescandOp (C2138: the scan moment), or zero (the receipt time) when it
// lies more than a day after the receipt or cannot be read.
func scannedAt(gescandOp string, received time.Time) time.Time {
	t, err := time.Parse(time.RFC3339Nano, gescandOp)
	if err != nil {
		// RFC 3339 allows a leap second, which time.Parse refuses.
		t, err = time.Parse(time.RFC3339Nano, strings.Replace(gescandOp, ":60", ":59", 1))
		if err != nil {
			return time.Time{}
		}
	}
	if t.After(received.Add(futureSlack)) {
		return time.Time{}
	}
	return t.UTC()
}

// subjectLine finds a "Betreft:" or "Onderwerp:" line in a letter's text.
var subjectLine = regexp.MustCompile(`(?im)^[ \t]*(?:betreft|onderwerp)[ \t]*:[ \t]*(.*)$`)

// onderwerp is the sidecar's onderwerp; else the text after the letter's own "Betreft:"
// or "Onderwerp:" (on that line, or the next non-empty line when it ends there), cut to
// 200 characters; else "Ontvangen <documenttype>".
func onderwerp(sc *Sidecar, text string) string {
	if s := strings.TrimSpace(sc.Onderwerp); s != "" {
		return s
	}
	if loc := subjectLine.FindStringSubmatchIndex(text); loc != nil {
		s := strings.TrimSpace(text[loc[2]:loc[3]])
		if s == "" {
			for _, line := range strings.Split(text[loc[1]:], "\n") {
				if s = strings.TrimSpace(line); s != "" {
					break
				}
			}
		}
		if s = ingest.Clip(strings.Join(strings.Fields(s), " "), ingest.MaxOnderwerp); s != "" {
			return s
		}
	}
	if d := strings.TrimSpace(sc.Documenttype); d != "" {
		return "Ontvangen " + d
	}
	return "Ontvangen brief"
}

func metadata(sc *Sidecar, vendor string) map[string]string {
	m := map[string]string{"leverancier": vendor, "scanId": sc.ScanID}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("documenttype", sc.Documenttype)
	set("zaaknummer", sc.Zaaknummer)
	if sc.Paginas != nil {
		m["paginas"] = strconv.Itoa(*sc.Paginas)
	}
	for k, v := range sc.Kenmerken {
		set("kenmerk."+k, v)
	}
	return m
}

func signals(sc *Sidecar, vendor string) []string {
	var s []string
	if d := strings.TrimSpace(sc.Documenttype); d != "" {
		s = append(s, "documenttype:"+strings.ToLower(d))
	}
	if sc.Vertrouwelijk {
		s = append(s, "vertrouwelijk")
	}
	if sc.Zaaknummer != "" {
		s = append(s, "zaak")
	}
	return append(s, "leverancier:"+vendor)
}

// sender is the betrokkene as the sidecar describes it. The explicit name fields win;
// without them ingest splits naam as for e-mail. The e-mail address and phone number go
// as given: ingest normalises them and keeps an unusable one as overig.
func sender(a *Afzender) ingest.Sender {
	s := ingest.Sender{
		Organisation: a.Organisatie, Address: a.Emailadres, Phone: a.Telefoonnummer, Name: a.Naam,
	}
	cn := ingest.Contactnaam{Voorletters: a.Voorletters, Voornaam: a.Voornaam, VoorvoegselAchternaam: a.VoorvoegselAchternaam, Achternaam: a.Achternaam}
	if cn != (ingest.Contactnaam{}) {
		s.Contactnaam = &cn
		first := a.Voornaam
		if first == "" {
			first = a.Voorletters
		}
		s.Name = strings.Join(strings.Fields(strings.Join([]string{first, a.VoorvoegselAchternaam, a.Achternaam}, " ")), " ")
	}
	if a.Correspondentieadres != nil {
		s.Postal = adres(a.Correspondentieadres)
	}
	return s
}

var nlPostcode = regexp.MustCompile(`^([1-9][0-9]{3}) ?([A-Za-z]{2})$`)

// adres is the correspondentieadres per Open Klant: a Dutch postcode as "1234 AB"; one
// that cannot be normalised (a foreign one, or any with another land) goes before the
// woonplaats in stad.
func adres(c *Correspondentieadres) *ingest.Adres {
	a := &ingest.Adres{
		Straatnaam: c.Straat, Huisnummer: c.Huisnummer, Huisnummertoevoging: c.Huisnummertoevoeging, Stad: c.Woonplaats,
		Adresregel1: c.Adresregel1, Adresregel2: c.Adresregel2, Adresregel3: c.Adresregel3, Land: c.Land,
	}
	if a.Land == "" {
		a.Land = "NL"
	}
	pc := strings.TrimSpace(c.Postcode)
	if m := nlPostcode.FindStringSubmatch(pc); m != nil && a.Land == "NL" {
		a.Postcode = m[1] + " " + strings.ToUpper(m[2])
	} else if pc != "" {
		a.Stad = strings.TrimSpace(pc + " " + c.Woonplaats)
	}
	return a
}
