package chat

import (
	"strconv"
	"strings"
	"time"

	"github.com/instroom/instroom/ingest"
)

// The default interne taken per outcome (contracts/intake-api.md §9, outcome table).
const (
	handelingLezen       = "Lezen en bepalen benodigde actie"
	handelingTerugbellen = "Terugbellen"
)

// conversation is what a transcript's intake is made of.
type conversation struct {
	g           *Gesprek
	raw         []byte // the transcript as delivered
	vendor      string
	received    time.Time
	attachments []ingest.Content
	notes       []string
}

// identity is the channel identity of a transcript: vendor and gesprekId, so the same
// gesprekId from two vendors is two conversations (contracts/intake-api.md §10).
func identity(vendor, gesprekID string) string { return vendor + "\x1f" + gesprekID }

// gesprekIntake maps a transcript to a channel-neutral intake, per the "Transcripts"
// table of contracts/intake-api.md §9. Limits are applied by ingest.Map.
func gesprekIntake(c conversation, s *ChannelSettings) *ingest.Intake {
	g := c.g
	kanaal, mapped := s.ByKanaal[strings.ToLower(strings.TrimSpace(g.Kanaal))]
	named := kanaal // the kanaal in texts: the mapped one, else as given
	if !mapped {
		kanaal, named = "", strings.TrimSpace(g.Kanaal)
	}
	in := &ingest.Intake{
		Channel: Channel, Identity: identity(c.vendor, g.GesprekID), Kanaal: kanaal,
		Subject: onderwerp(g, named), Text: render(g),
		SentAt: lastMessage(g), ReceivedAt: c.received.UTC(),
		Metadata: metadata(g, c.vendor), Signals: signals(g, c.vendor),
		Original:    ingest.BytesContent(g.GesprekID+".json", "application/json", c.raw),
		Attachments: c.attachments, Notes: c.notes, Taal: g.Taal, KeepText: true,
		Actors: medewerkers(g, s.Medewerker), DefaultTasks: defaultTasks(g, named),
	}
	if k := g.Klant; k != nil {
		in.Sender = ingest.Sender{Name: k.Naam, Address: k.Emailadres, Phone: k.Telefoonnummer, PartijID: strings.ToLower(k.PartijID)}
	}
	if p := g.Uitkomst.Telefoonnummer; p != "" {
		// ingest leaves it out when it normalises to klant.telefoonnummer.
		in.Phones = []ingest.LabelledPhone{{Phone: p, Omschrijving: "Terugbelnummer"}}
	}
	if u := g.Uitkomst; u.Soort == "formulierIngediend" && u.Referentie != "" {
		in.Onderwerpen = []ingest.Identificator{{
			ObjectID: u.Referentie, CodeObjecttype: "formulierinzending", CodeRegister: "Open Formulieren", CodeSoortObjectID: "public_registration_reference",
		}}
	}
	return in
}

// onderwerp is the transcript's onderwerp, else its intentie, else "Gesprek via <kanaal>".
func onderwerp(g *Gesprek, kanaal string) string {
	for _, s := range []string{g.Onderwerp, g.Intentie} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return "Gesprek via " + kanaal
}

// lastMessage is the latest message time in UTC (C9853: the last, not the first); zero
// (the time of receipt) when none can be read.
func lastMessage(g *Gesprek) time.Time {
	var last time.Time
	for _, m := range g.Berichten {
		if t, ok := parseTijdstip(m.Tijdstip); ok && t.After(last) {
			last = t
		}
	}
	return last.UTC()
}

func metadata(g *Gesprek, vendor string) map[string]string {
	m := map[string]string{"leverancier": vendor, "gesprekId": g.GesprekID, "kanaal": g.Kanaal, "uitkomst": g.Uitkomst.Soort}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if g.Uitkomst.Tevreden != nil {
		m["tevreden"] = strconv.FormatBool(*g.Uitkomst.Tevreden)
	}
	set("intentie", g.Intentie)
	set("product", g.Leverancier)
	set("gestartOp", g.GestartOp)
	set("beeindigdOp", g.BeeindigdOp)
	set("formulier", g.Uitkomst.Formulier)
	if g.Klant != nil {
		set("authenticatie", g.Klant.Geauthenticeerd)
	}
	for k, v := range g.Kenmerken {
		set("kenmerk."+k, v)
	}
	return m
}

func signals(g *Gesprek, vendor string) []string {
	s := []string{"uitkomst:" + g.Uitkomst.Soort}
	if t := g.Uitkomst.Tevreden; t != nil && !*t {
		s = append(s, "ontevreden")
	}
	return append(s, "kanaal:"+strings.ToLower(strings.TrimSpace(g.Kanaal)), "leverancier:"+vendor)
}

// medewerkers are the distinct employees with an identificatie, in uitkomst and then in
// the messages, each as actor soort medewerker with an actoridentificator. The actor's
// uuid derives from the identificatie (case-insensitive), so every conversation with
// the same employee links the same actor.
func medewerkers(g *Gesprek, codes Codes) []ingest.ActorSpec {
	list := []*Medewerker{g.Uitkomst.Medewerker}
	for i := range g.Berichten {
		list = append(list, g.Berichten[i].Medewerker)
	}
	var out []ingest.ActorSpec
	index := map[string]int{}
	for _, m := range list {
		if m == nil || strings.TrimSpace(m.Identificatie) == "" {
			continue
		}
		id := strings.TrimSpace(m.Identificatie)
		naam := strings.TrimSpace(m.Naam)
		key := strings.ToLower(id)
		if i, ok := index[key]; ok {
			if out[i].Naam == out[i].Identificator.ObjectID && naam != "" {
				out[i].Naam = naam
			}
			continue
		}
		if naam == "" {
			naam = id
		}
		index[key] = len(out)
		out = append(out, ingest.ActorSpec{
			UUID: ingest.ID("actor", "medewerker", key), Naam: naam, SoortActor: "medewerker",
			Identificator: &ingest.Identificator{
				ObjectID: ingest.Clip(id, 200), CodeObjecttype: codes.CodeObjecttype, CodeRegister: codes.CodeRegister, CodeSoortObjectID: codes.CodeSoortObjectID,
			},
		})
	}
	return out
}

// defaultTasks is the interne taak of the outcome when no routing rule matches: none
// for beantwoord, overgedragen and formulierIngediend (an empty, non-nil list, so
// routing.default does not apply either).
func defaultTasks(g *Gesprek, kanaal string) []ingest.TaskSpec {
	kcc := []string{"kcc"}
	u := g.Uitkomst
	switch u.Soort {
	case "overdrachtMislukt":
		return []ingest.TaskSpec{{GevraagdeHandeling: handelingLezen, EenheidKeys: kcc,
			Toelichting: "Aangemaakt naar aanleiding van een gesprek via " + kanaal + "; de overdracht aan een medewerker is mislukt."}}
	case "terugbelverzoek":
		nr := strings.TrimSpace(u.Telefoonnummer)
		if n := ingest.NormalisePhone(nr); ingest.ValidPhone(n) {
			nr = n
		}
		lines := []string{"Terugbelverzoek uit een gesprek via " + kanaal + "."}
		for _, l := range [][2]string{{"Telefoonnummer: ", nr}, {"Voorkeurstijd: ", u.Voorkeurstijd}, {"Toelichting: ", u.Toelichting}} {
			if v := strings.TrimSpace(l[1]); v != "" {
				lines = append(lines, l[0]+v)
			}
		}
		return []ingest.TaskSpec{{GevraagdeHandeling: handelingTerugbellen, EenheidKeys: kcc, Toelichting: strings.Join(lines, "\n")}}
	case "beantwoord", "overgedragen", "formulierIngediend":
		return []ingest.TaskSpec{}
	}
	return []ingest.TaskSpec{{GevraagdeHandeling: handelingLezen, EenheidKeys: kcc,
		Toelichting: "Aangemaakt naar aanleiding van een gesprek via " + kanaal}}
}
