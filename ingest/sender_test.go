package ingest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestMapSenderKinds: a betrokkene is known by e-mail address, phone number, postal
// address, app identity or not at all; the mapping emits exactly the parts that fit and a
// "no usable sender" note only when nothing is known.
func TestMapSenderKinds(t *testing.T) {
	nr := 12
	for _, tc := range []struct {
		name     string
		sender   ingest.Sender
		adressen []string // soortDigitaalAdres of each digitaal adres
		postal   bool
		note     bool
	}{
		{"e-mail", ingest.Sender{Name: "Jan de Vries", Address: "Jan@Example.nl"}, []string{"email"}, false, false},
		{"letter with a postal address", ingest.Sender{Contactnaam: &ingest.Contactnaam{Voorletters: "J.", Achternaam: "Vries", VoorvoegselAchternaam: "de"},
			Postal: &ingest.Adres{Straatnaam: "Dorpsstraat", Huisnummer: &nr, Postcode: "1234 AB", Stad: "Ergens", Land: "NL"}}, nil, true, false},
		{"phone only", ingest.Sender{Phone: "0612345678"}, []string{"telefoonnummer"}, false, false},
		{"app identity", ingest.Sender{Name: "Fatima", AppID: "whatsapp:+31612345678"}, []string{"overig"}, false, false},
		{"anonymous", ingest.Sender{}, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &ingest.Intake{Channel: "brief", Identity: "scanstraat\x1f" + tc.name, Sender: tc.sender, Subject: "Bezwaar", Text: "Tekst",
				ReceivedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Original: ingest.BytesContent("scan.pdf", "application/pdf", []byte("%PDF-1.4"))}
			m, err := ingest.Map(in, kccOptions())
			if err != nil {
				t.Fatal(err)
			}
			reg := m.Registration
			if err := ingesttest.ValidateRegistration(&reg); err != nil {
				t.Errorf("registration does not conform: %v", err)
			}
			var soorten []string
			for _, a := range reg.DigitaleAdressen {
				soorten = append(soorten, a.SoortDigitaalAdres)
			}
			if strings.Join(soorten, ",") != strings.Join(tc.adressen, ",") {
				t.Errorf("digitale adressen = %v, want %v", soorten, tc.adressen)
			}
			if got := reg.Betrokkenen[0].Correspondentieadres != nil; got != tc.postal {
				t.Errorf("correspondentieadres present = %v, want %v", got, tc.postal)
			}
			if tc.postal && reg.Betrokkenen[0].Contactnaam.Voorletters != "J." {
				t.Errorf("contactnaam = %+v, want the channel's split name", reg.Betrokkenen[0].Contactnaam)
			}
			note := strings.Contains(reg.InterneTaken[0].Toelichting, "geen (bruikbare) afzender")
			if note != tc.note {
				t.Errorf("no-sender note = %v, want %v (toelichting %q)", note, tc.note, reg.InterneTaken[0].Toelichting)
			}
		})
	}
}
