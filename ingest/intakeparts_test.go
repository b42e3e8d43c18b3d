package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestMapIntakeParts: an intake's own kanaal, further actors (a medewerker with an
// actoridentificator), further onderwerpobjecten and labelled phone numbers become the
// parts Open Klant expects.
func TestMapIntakeParts(t *testing.T) {
	mdw := ingest.ActorSpec{UUID: ingest.ID("actor", "medewerker", "s.jansen@gemeente.example"), Naam: "Sanne Jansen", SoortActor: "medewerker",
		Identificator: &ingest.Identificator{ObjectID: "s.jansen@gemeente.example", CodeObjecttype: "mdw", CodeRegister: "msei", CodeSoortObjectID: "email"}}
	form := ingest.Identificator{ObjectID: "OF-7XK2QP", CodeObjecttype: "formulierinzending", CodeRegister: "Open Formulieren", CodeSoortObjectID: "public_registration_reference"}
	in := &ingest.Intake{
		Channel: "chat", Identity: "lev\x1fg1", Kanaal: "WhatsApp", Subject: "Vraag", Text: "10:00 Klant: hallo",
		Sender:      ingest.Sender{Phone: "06 - 12 34 56 78"},
		Phones:      []ingest.LabelledPhone{{Phone: "+31 (0)6 1234 5678", Omschrijving: "Terugbelnummer"}, {Phone: "020-1234567", Omschrijving: "Terugbelnummer"}, {Phone: "14 020", Omschrijving: "Terugbelnummer"}},
		Actors:      []ingest.ActorSpec{mdw, mdw},
		Onderwerpen: []ingest.Identificator{form, {ObjectID: "", CodeObjecttype: "x", CodeRegister: "y", CodeSoortObjectID: "z"}},
		ReceivedAt:  time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Original: ingest.BytesContent("g1.json", "application/json", []byte("{}")),
	}
	m, err := ingest.Map(in, kccOptions())
	if err != nil {
		t.Fatal(err)
	}
	reg := m.Registration
	if err := ingesttest.ValidateRegistration(&reg); err != nil {
		t.Errorf("registration does not conform: %v", err)
	}
	if reg.Klantcontact.Kanaal != "WhatsApp" {
		t.Errorf("kanaal = %q, want the intake's WhatsApp", reg.Klantcontact.Kanaal)
	}
	var got []string
	for _, d := range reg.DigitaleAdressen {
		got = append(got, d.SoortDigitaalAdres+" "+d.Adres+" "+d.Omschrijving)
	}
	want := "telefoonnummer 0612345678 E-mail afzender|telefoonnummer 0201234567 Terugbelnummer|overig 14 020 Telefoonnummer (niet gecontroleerd)"
	want = strings.Replace(want, "E-mail afzender", ingest.DefaultChannels["chat"].AdresOmschrijving, 1)
	if strings.Join(got, "|") != want {
		t.Errorf("digitale adressen = %q, want %q (the same number once)", strings.Join(got, "|"), want)
	}
	var mdwActors int
	for _, a := range reg.Actoren {
		if a.SoortActor == "medewerker" {
			mdwActors++
			if a.Actoridentificator == nil || a.Actoridentificator.ObjectID != "s.jansen@gemeente.example" || a.ActorIdentificatie != nil {
				t.Errorf("medewerker actor = %+v", a)
			}
		}
	}
	if mdwActors != 1 || len(reg.ActorKlantcontacten) != 2 {
		t.Errorf("%d medewerker actors, %d actorklantcontacten; want 1 and 2 (worker + medewerker)", mdwActors, len(reg.ActorKlantcontacten))
	}
	if len(reg.Onderwerpobjecten) != 1 || *reg.Onderwerpobjecten[0].Onderwerpobjectidentificator != form {
		t.Errorf("onderwerpobjecten = %+v, want the form only", reg.Onderwerpobjecten)
	}
	for _, n := range m.Registration.InterneTaken {
		if strings.Contains(n.Toelichting, "geen (bruikbare) afzender") {
			t.Errorf("toelichting %q: a sender with phone numbers is reachable", n.Toelichting)
		}
	}
}

// TestMedewerkerActorIdentificatie: Open Klant requires functie and telefoonnummer in a
// medewerker's actorIdentificatie, so it is only given with both.
func TestMedewerkerActorIdentificatie(t *testing.T) {
	cases := []struct {
		spec ingest.ActorSpec
		want map[string]string
	}{
		{ingest.ActorSpec{Naam: "A", SoortActor: "medewerker"}, nil},
		{ingest.ActorSpec{Naam: "A", SoortActor: "medewerker", Functie: "KCC"}, nil},
		{ingest.ActorSpec{Naam: "A", SoortActor: "medewerker", Functie: "KCC", Telefoonnummer: "14 020"}, nil},
		{ingest.ActorSpec{Naam: "A", SoortActor: "medewerker", Functie: "KCC", Telefoonnummer: "0201234567", Emailadres: "a@gemeente.example"},
			map[string]string{"functie": "KCC", "telefoonnummer": "0201234567", "emailadres": "a@gemeente.example"}},
	}
	for _, tc := range cases {
		a := tc.spec.Actor()
		if len(a.ActorIdentificatie) != len(tc.want) {
			t.Errorf("Actor(%+v).ActorIdentificatie = %v, want %v", tc.spec, a.ActorIdentificatie, tc.want)
			continue
		}
		for k, v := range tc.want {
			if a.ActorIdentificatie[k] != v {
				t.Errorf("Actor(%+v).ActorIdentificatie = %v, want %v", tc.spec, a.ActorIdentificatie, tc.want)
			}
		}
		if err := ingesttest.ValidatePart("Actor", a); err != nil {
			t.Errorf("Actor(%+v) does not conform: %v", tc.spec, err)
		}
	}
}

// TestDropSourceVendor: DropSourceOptions.Vendor is set on every item.
func TestDropSourceVendor(t *testing.T) {
	z := &goneZone{}
	src := ingest.NewDropSource(z, &ingest.DropSourceOptions{Vendor: "lev", Once: true, PollInterval: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	it, ack, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it.Vendor != "lev" {
		t.Errorf("Item.Vendor = %q, want lev", it.Vendor)
	}
	ack(ctx, nil)
}
