package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Letters and transcripts for the log-privacy test: every field a person or a vendor
// fills in with content holds a secret. Ids (scanId, gesprekId) are the vendor's and, by
// contract, never built from personal data: they are the items' references in the logs.

// privateLetter is a complete letter sidecar: names, organisation, both address forms,
// e-mail, phone, subject, zaaknummer, ocrTekst (so no OCR runs), kenmerken and the scan's
// file name are secrets. It returns the sidecar document, the scan's file name and the
// subject secret.
func privateLetter(s *secretSet, where, scanID string) (map[string]any, string, string) {
	where += " letter:"
	subject := s.word(where + " onderwerp")
	bestand := s.word(where+" scan file name (bestand)") + ".pdf"
	doc := map[string]any{
		"scanId": scanID, "gescandOp": "2026-03-12T09:41:17+01:00", "bestand": bestand,
		"afzender": map[string]any{
			"voornaam": s.word(where + " voornaam"), "voorvoegselAchternaam": "van", "achternaam": s.word(where + " achternaam"),
			"organisatie": s.word(where + " organisatie"),
			"correspondentieadres": map[string]any{
				"straat": s.word(where + " straat"), "huisnummer": 12, "postcode": "1234 AB", "woonplaats": s.word(where + " woonplaats"),
				"adresregel1": s.word(where + " adresregel1"), "adresregel2": s.word(where + " adresregel2"), "land": "NL",
			},
			"emailadres":     s.email(where + " emailadres"),
			"telefoonnummer": s.phone(where + " telefoonnummer"),
		},
		"onderwerp":    "Bezwaar " + subject,
		"documenttype": "bezwaarschrift", "paginas": 1, "vertrouwelijk": true, "taal": "nld",
		"zaaknummer": "ZAAK-2026-" + s.word(where + " zaaknummer")[7:17],
		"ocrTekst":   "Geachte gemeente,\n\n" + s.word(where+" ocrTekst") + "\nMet vriendelijke groet,\n" + s.word(where+" ocrTekst signature"),
		"kenmerken":  map[string]any{"batch": s.word(where + " kenmerk value")},
	}
	return doc, bestand, subject
}

// invalidLetter fails brief.schema.json in many ways, a secret in every value and in the
// names of properties the schema does not know.
func invalidLetter(s *secretSet, where, scanID string) map[string]any {
	where += " invalid letter:"
	return map[string]any{
		"scanId": scanID, "gescandOp": s.word(where + " gescandOp"), "bestand": s.word(where+" bestand") + ".exe",
		"afzender": map[string]any{
			"naam": strings.Repeat(s.word(where+" over-long naam"), 20), "voorletters": s.word(where + " over-long voorletters"),
			s.word(where + " unknown afzender key"): s.word(where + " unknown afzender value"),
		},
		"taal":                         s.word(where + " taal"),
		"paginas":                      s.word(where + " paginas"),
		"kenmerken":                    map[string]any{s.word(where+" kenmerk name that is not a name") + " !": "x", "batch": 7},
		s.word(where + " unknown key"): s.word(where + " unknown value"),
	}
}

// privateTranscript is a complete transcript ending in a call-back request: the
// customer's name, e-mail and phone, every message text, an employee's name and id, the
// subject, intent, outcome fields, an inline attachment (name and content) and two
// attachment URLs (one on a host the vendor does not list, one that resolves to
// loopback, which the fetcher refuses) are secrets. It returns the document and its
// subject secret.
func privateTranscript(s *secretSet, where, id string) (map[string]any, string) {
	where += " transcript:"
	subject := s.word(where + " onderwerp")
	msg := func(van, what string) map[string]any {
		return map[string]any{"van": van, "tijdstip": "2026-03-14T19:47:12+01:00", "tekst": s.word(where + " " + what)}
	}
	staff := map[string]any{"naam": s.word(where + " medewerker naam"), "identificatie": s.email(where + " medewerker identificatie")}
	withStaff := msg("medewerker", "medewerker message")
	withStaff["medewerker"] = staff
	files := map[string]any{"van": "klant", "tijdstip": "2026-03-14T19:50:00+01:00", "bijlagen": []any{
		map[string]any{"bestandsnaam": s.word(where+" inline attachment bestandsnaam") + ".txt", "mediaType": "text/plain",
			"inhoud": base64.StdEncoding.EncodeToString([]byte(s.word(where + " inline attachment content")))},
		map[string]any{"bestandsnaam": s.word(where+" unlisted-host attachment bestandsnaam") + ".pdf", "mediaType": "application/pdf",
			"url": "https://" + strings.ToLower(s.word(where+" unlisted attachment host")) + ".example/" + s.word(where+" unlisted attachment URL path")},
		map[string]any{"bestandsnaam": s.word(where+" loopback attachment bestandsnaam") + ".jpg", "mediaType": "image/jpeg",
			"url": "https://localhost/" + s.word(where+" loopback attachment URL path") + "?q=" + s.word(where+" loopback attachment URL query")},
	}}
	doc := map[string]any{
		"gesprekId": id, "kanaal": "chat", "leverancier": "Privacytest Chatbot",
		"gestartOp": "2026-03-14T19:47:12+01:00", "beeindigdOp": "2026-03-14T19:53:30+01:00",
		"onderwerp": subject, "intentie": s.word(where + " intentie"),
		"klant": map[string]any{"naam": s.word(where + " klant naam"), "emailadres": s.email(where + " klant emailadres"), "telefoonnummer": s.phone(where + " klant telefoonnummer")},
		"berichten": []any{msg("klant", "klant message"), msg("bot", "bot message"), withStaff, files,
			map[string]any{"van": "klant", "tijdstip": "2026-03-14T19:52:41+01:00", "tekst": "Bel me op " + s.phone(where+" phone in a message")}},
		"uitkomst": map[string]any{"soort": "terugbelverzoek", "telefoonnummer": s.phone(where + " uitkomst telefoonnummer"),
			"voorkeurstijd": s.word(where + " uitkomst voorkeurstijd"), "toelichting": s.word(where + " uitkomst toelichting"), "tevreden": false},
	}
	return doc, subject
}

// fetchFailTranscript has an attachment URL on a listed host that does not resolve: the
// fetch fails (temporarily), so the transcript is retried and never registered in the test.
func fetchFailTranscript(s *secretSet, where, id, host string) map[string]any {
	where += " transcript whose fetch fails:"
	return map[string]any{
		"gesprekId": id, "kanaal": "whatsapp", "onderwerp": s.word(where + " onderwerp"),
		"klant": map[string]any{"telefoonnummer": s.phone(where + " klant telefoonnummer")},
		"berichten": []any{map[string]any{"van": "klant", "tijdstip": "2026-03-14T20:00:00+01:00", "tekst": s.word(where + " message"),
			"bijlagen": []any{map[string]any{"bestandsnaam": s.word(where+" bestandsnaam") + ".jpg", "mediaType": "image/jpeg",
				"url": "https://" + host + "/" + s.word(where+" URL path") + "?token=" + s.word(where+" URL query")}}}},
		"uitkomst": map[string]any{"soort": "onbekend"},
	}
}

// invalidTranscript fails gesprek.schema.json: secrets in wrong values and in unknown keys.
func invalidTranscript(s *secretSet, where, id string) map[string]any {
	where += " invalid transcript:"
	return map[string]any{
		"gesprekId": id, "kanaal": strings.Repeat(s.word(where+" over-long kanaal"), 5),
		"klant": map[string]any{"naam": s.word(where + " klant naam"), "partijId": s.word(where + " partijId"),
			s.word(where + " unknown klant key"): s.phone(where + " phone under an unknown key")},
		"berichten":                    []any{map[string]any{"van": s.word(where + " van"), "tijdstip": s.word(where + " tijdstip"), "tekst": s.word(where + " tekst")}},
		"uitkomst":                     map[string]any{"soort": "terugbelverzoek"},
		s.word(where + " unknown key"): s.word(where + " unknown value"),
	}
}

func privacyJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
