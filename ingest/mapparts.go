package ingest

import (
	"fmt"
	"path"
	"strings"
)

// betrokkene adds the sender as betrokkene with the digitale adressen that fit what is
// known of them.
func (m *mapper) betrokkene() {
	in := m.in
	bet := Betrokkene{
		UUID: ID(m.kcID, "betrokkene", "afzender"), HadKlantcontact: m.ref(), Rol: "klant", Initiator: true,
		Organisatienaam: Clip(strings.TrimSpace(in.Sender.Organisation), MaxNaam), Contactnaam: contactnaam(in.Sender),
	}
	if id := strings.TrimSpace(in.Sender.PartijID); uuidRE.MatchString(id) {
		bet.WasPartij = &Ref{UUID: id}
	}
	if in.Sender.Postal != nil {
		a := limitAdres(*in.Sender.Postal)
		bet.Correspondentieadres = &a
	}
	m.reg.Betrokkenen = []Betrokkene{bet}
	betRef := &Ref{UUID: bet.UUID}
	add := func(tag, adres, soort, omschrijving string) {
		m.reg.DigitaleAdressen = append(m.reg.DigitaleAdressen, DigitaalAdres{
			UUID: ID(m.kcID, "digitaaladres", tag), VerstrektDoorBetrokkene: betRef,
			Adres: adres, SoortDigitaalAdres: soort, Omschrijving: Clip(omschrijving, MaxOmschrijvingAdres),
		})
	}
	from := NormaliseEmail(in.Sender.Address)
	switch {
	case from != "" && ValidEmail(from):
		add("afzender", from, "email", m.ch.AdresOmschrijving)
	case from != "" && len([]rune(from)) <= MaxDigitaalAdres:
		add("afzender", from, "overig", "E-mailadres (niet gecontroleerd)")
	case from != "":
		m.notes = append(m.notes, "Het afzenderadres is ongeldig of langer dan 80 tekens en is niet als digitaal adres vastgelegd; zie het originele bericht.")
	case !in.Sender.Known() && len(in.Phones) == 0:
		m.notes = append(m.notes, "Het bericht heeft geen (bruikbare) afzender; zie het originele bericht.")
	}
	if app := strings.TrimSpace(in.Sender.AppID); app != "" {
		add("app", Clip(app, MaxDigitaalAdres), "overig", "App-identiteit")
	}
	if rt := NormaliseEmail(in.ReplyTo); rt != "" && rt != from && ValidEmail(rt) {
		add("antwoordadres", rt, "email", "Antwoordadres (Reply-To)")
	}
	seen := map[string]bool{}
	phone := func(tag, p, omschrijving string) {
		p = strings.TrimSpace(p)
		n := NormalisePhone(p)
		if p == "" || seen[phoneKey(n)] {
			return
		}
		seen[phoneKey(n)] = true
		if ValidPhone(n) {
			add(tag, n, "telefoonnummer", omschrijving)
		} else {
			add(tag, Clip(p, MaxDigitaalAdres), "overig", "Telefoonnummer (niet gecontroleerd)")
		}
	}
	phone("telefoon", in.Sender.Phone, m.ch.AdresOmschrijving)
	for i, p := range in.Phones {
		phone(fmt.Sprintf("telefoon/%d", i+1), p.Phone, p.Omschrijving)
	}
}

// phoneKey compares normalised phone numbers: +31 6… and 06… are the same number.
func phoneKey(n string) string {
	if rest, ok := strings.CutPrefix(n, "+31"); ok {
		return "0" + rest
	}
	return n
}

// objects adds the informatieobjecten and their bijlagen: the original, the delivery
// metadata, each attachment, and the full text where it was cut (or always, when the
// channel asks for it).
func (m *mapper) objects() {
	in := m.in
	if !in.Withheld.Original {
		m.add("origineel", "origineel", "Origineel: "+onderwerpOrDefault(m.subject), in.Original)
	}
	if in.Delivery != nil && in.Delivery.Open != nil && !in.Withheld.Delivery {
		m.add("aanlevering", "aanlevering", "Aanlevering: "+onderwerpOrDefault(m.subject), *in.Delivery)
	}
	for i, a := range in.Attachments {
		if in.Withheld.Attachments[i] {
			continue
		}
		if a.Filename == "" {
			a.Filename = fmt.Sprintf("bijlage-%d", i+1)
			if ext := extByType[MediaType(a.ContentType)]; ext != "" {
				a.Filename += "." + ext
			}
		}
		m.add(fmt.Sprintf("bijlage/%d/%s", i, a.SHA256), "bijlage", a.Filename, a)
	}
	_, subjCut := Truncate(m.subject, MaxOnderwerp)
	_, textCut := Truncate(m.text, MaxInhoud)
	// A withheld original leaves the full text as the contact's readable copy.
	if subjCut || textCut || (in.KeepText && m.text != "") || in.Withheld.Original {
		full := "Onderwerp: " + m.subject + "\n\n" + m.text + "\n"
		m.add("volledige_tekst", "volledige_tekst", "Volledige tekst: "+onderwerpOrDefault(m.subject), TextContent("volledige-tekst.txt", full))
	}
}

// add adds one informatieobject, its bijlage and its content to store.
func (m *mapper) add(tag, soort, titel string, c Content) {
	o := m.o
	ioID := ID(m.kcID, "informatieobject", tag)
	name := c.Filename
	key := objectKey(o.KeyPrefix, m.kcID, ioID, name, c.ContentType)
	if name == "" {
		name = path.Base(key)
	}
	vertrouwelijkheid := o.Vertrouwelijkheidaanduiding
	if m.in.Vertrouwelijk {
		vertrouwelijkheid = "vertrouwelijk"
	}
	m.reg.Informatieobjecten = append(m.reg.Informatieobjecten, Informatieobject{
		UUID: ioID, Bronorganisatie: o.Bronorganisatie, Informatieobjecttype: o.Informatieobjecttype,
		Creatiedatum: m.datum, Titel: ClipEllipsis(titel, MaxTitel), Auteur: ClipEllipsis(authorOf(m.in.Sender), MaxNaam),
		Taal: m.taal, Status: "definitief", Formaat: Clip(MediaType(c.ContentType), 255),
		Bestandsnaam: ClipEllipsis(SafeFilename(name), MaxBestandsnaam), Bestandsomvang: c.Size,
		Vertrouwelijkheidaanduiding: vertrouwelijkheid,
		Integriteit:                 Integriteit{Algoritme: "sha_256", Waarde: c.SHA256, Datum: m.datum},
		Soort:                       soort, ObjectKey: key,
	})
	m.reg.Bijlagen = append(m.reg.Bijlagen, Bijlage{
		UUID: ID(m.kcID, "bijlage", ioID), WasBijlageVanKlantcontact: m.ref(),
		Bijlageidentificator: Identificator{ObjectID: ioID, CodeObjecttype: o.CodeObjecttype, CodeRegister: o.CodeRegister, CodeSoortObjectID: o.CodeSoortObjectID},
	})
	m.stored = append(m.stored, Stored{Key: key, Content: c})
}

// tasks adds the interne taken: those of the matching routing rules, else the channel's
// default tasks when it has them, else routing's default; the notes go into each
// toelichting.
func (m *mapper) tasks() {
	if m.o.Router == nil && !m.in.Withheld.Any() {
		return
	}
	var tasks []TaskSpec
	matched := false
	if m.o.Router != nil {
		tasks, matched = m.o.Router.route(m.in)
	}
	if !matched && m.in.DefaultTasks != nil {
		tasks = m.in.DefaultTasks
	}
	if len(tasks) == 0 && m.in.Withheld.Any() {
		tasks = noteTasks(m.in, m.o) // the virus note must reach a colleague
	}
	for i, t := range tasks {
		var refs []Ref
		actors := append([]ActorSpec(nil), t.Actors...)
		for _, k := range t.EenheidKeys {
			if a, ok := m.o.Eenheden[k]; ok {
				actors = append(actors, a)
			}
		}
		for _, a := range actors {
			act := a.Actor()
			refs = append(refs, Ref{UUID: act.UUID})
			m.reg.Actoren = appendActor(m.reg.Actoren, act)
		}
		toel := t.Toelichting
		if len(m.notes) > 0 {
			toel = strings.TrimSpace(toel + "\n\n" + strings.Join(m.notes, "\n"))
		}
		m.reg.InterneTaken = append(m.reg.InterneTaken, InterneTaak{
			UUID: ID(m.kcID, "internetaak", fmt.Sprint(i)), AanleidinggevendKlantcontact: m.ref(),
			GevraagdeHandeling:   ClipEllipsis(t.GevraagdeHandeling, MaxGevraagdeHandeling),
			ToegewezenAanActoren: refs, Toelichting: ClipEllipsis(toel, MaxToelichting), Status: "te_verwerken",
		})
	}
}
