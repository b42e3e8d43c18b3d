package ingest

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

// TaskSpec is an interne taak the routing chose.
type TaskSpec struct {
	GevraagdeHandeling string
	Toelichting        string
	Actors             []ActorSpec
	// EenheidKeys name further actors by their key in MapOptions.Eenheden (a channel's
	// default task, assigned to eenheid "kcc").
	EenheidKeys []string
}

// ChannelDefaults are the per-channel values of a registration.
type ChannelDefaults struct {
	Kanaal string
	// Omschrijving of the digitaal adres of the sender (≤40).
	AdresOmschrijving string
	// ZaakCodes, when set, replace MapOptions.Zaak's codes for this channel's zaken.
	ZaakCodes *Identificator
}

// MapOptions configure how an intake becomes a registration.
type MapOptions struct {
	// Taal is the 3-letter language code of klantcontacten and informatieobjecten.
	Taal string
	// Channels holds the kanaal and wording per channel name.
	Channels map[string]ChannelDefaults
	// Worker is the geautomatiseerde actor that registers every contact.
	Worker ActorSpec
	// Router chooses the interne taken. Nil: no tasks.
	Router *Router
	// Eenheden are the configured organisatorische eenheden by key (mapping.eenheden).
	Eenheden map[string]ActorSpec
	// Bijlage register codes (bijlageidentificator).
	CodeObjecttype    string
	CodeRegister      string
	CodeSoortObjectID string
	// Documenten API metadata.
	Bronorganisatie             string
	Informatieobjecttype        string
	Vertrouwelijkheidaanduiding string
	// Zaak finds zaak numbers in subject and text, and codes their onderwerpobjecten.
	Zaak ZaakOptions
	// KeyPrefix is put before every object key (may be empty).
	KeyPrefix string
	// Location is used to render dates (creatiedatum). Nil: DefaultLocation, loaded
	// again for every item.
	Location *time.Location
}

func (o *MapOptions) withDefaults() MapOptions {
	var m MapOptions
	if o != nil {
		m = *o
	}
	if m.Taal == "" {
		m.Taal = "nld"
	}
	if m.Worker.Naam == "" {
		m.Worker = ActorSpec{Naam: "Instroom", SoortActor: "geautomatiseerde_actor", Functie: "Registreren inkomende berichten"}
	}
	if m.CodeObjecttype == "" {
		m.CodeObjecttype = "informatieobject"
	}
	if m.CodeRegister == "" {
		m.CodeRegister = "instroom"
	}
	if m.CodeSoortObjectID == "" {
		m.CodeSoortObjectID = "uuid"
	}
	if m.Vertrouwelijkheidaanduiding == "" {
		m.Vertrouwelijkheidaanduiding = "intern"
	}
	if m.Location == nil {
		m.Location = DefaultLocation() // a read of the zoneinfo file: set Location once instead
	}
	return m
}

// DefaultLocation loads Europe/Amsterdam, or returns UTC without a time zone database.
// time.LoadLocation reads the zoneinfo file on every call, so a caller that maps many
// items sets MapOptions.Location to it once.
func DefaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Europe/Amsterdam"); err == nil {
		return loc
	}
	return time.UTC
}

// DefaultChannels are the kanaal values used when none are configured (KISS's defaults
// where it has one).
var DefaultChannels = map[string]ChannelDefaults{
	"email": {Kanaal: "E-mail", AdresOmschrijving: "Afzender van ontvangen e-mail"},
	"brief": {Kanaal: "Brief", AdresOmschrijving: "Afzender van ontvangen brief"},
	"chat":  {Kanaal: "Live chat", AdresOmschrijving: "Opgegeven in chatgesprek"},
}

// Stored is one informatieobject's content with the key it is stored under.
type Stored struct {
	Key     string
	Content Content
}

// Mapped is the result of mapping one intake.
type Mapped struct {
	Registration Registration
	// Objects are the contents to store, in the order of Registration.Informatieobjecten.
	Objects []Stored
}

const noSubject = "(geen onderwerp)"

// Map turns an intake into a registration. It applies every limit of the contract: text is
// cut on a rune boundary and, when anything was cut, the full text is kept as an extra
// informatieobject. Map is pure: the same intake and options give the same registration.
func Map(in *Intake, opts *MapOptions) (*Mapped, error) {
	o := opts.withDefaults()
	if in.Channel == "" || in.Identity == "" {
		return nil, Permanentf(ReasonInvalid, "mapping intake: channel and identity are required")
	}
	if in.Original.Open == nil {
		return nil, Permanentf(ReasonInvalid, "mapping intake: the original is missing")
	}
	m := &mapper{in: in, o: &o, ch: o.channel(in.Channel)}
	m.kcID = KlantcontactID(in.Channel, in.Identity)
	m.klantcontact()
	m.actors()
	m.betrokkene()
	m.objects()
	m.reg.Onderwerpobjecten = onderwerpobjecten(in, &o, m.ch, m.kcID)
	m.tasks()
	m.reg.DigitaleAdressen = nonNil(m.reg.DigitaleAdressen)
	m.reg.Onderwerpobjecten = nonNil(m.reg.Onderwerpobjecten)
	m.reg.InterneTaken = nonNil(m.reg.InterneTaken)
	return &Mapped{Registration: m.reg, Objects: m.stored}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (o *MapOptions) channel(name string) ChannelDefaults {
	ch, ok := o.Channels[name]
	if !ok {
		ch = DefaultChannels[name]
	}
	if ch.Kanaal == "" {
		ch.Kanaal = name
	}
	return ch
}

// mapper holds the state of one Map call.
type mapper struct {
	in      *Intake
	o       *MapOptions
	ch      ChannelDefaults
	kcID    string
	reg     Registration
	stored  []Stored
	notes   []string
	subject string // the full subject, collapsed
	text    string // the full text
	datum   string // the creatiedatum of the informatieobjecten
	taal    string
}

func (m *mapper) ref() Ref { return Ref{UUID: m.kcID} }

func (m *mapper) klantcontact() {
	in := m.in
	when := in.SentAt
	if when.IsZero() {
		when = in.ReceivedAt
	}
	when = when.UTC().Truncate(time.Second)
	m.datum = when.In(m.o.Location).Format("2006-01-02")
	m.taal = m.o.Taal
	if taalRE.MatchString(in.Taal) {
		m.taal = in.Taal
	}
	m.subject = strings.TrimSpace(collapseSpace(in.Subject))
	onderwerp, subjCut := Truncate(m.subject, MaxOnderwerp)
	if onderwerp == "" {
		onderwerp = noSubject
	}
	m.text = strings.TrimSpace(strings.ReplaceAll(in.Text, "\r\n", "\n"))
	inhoud, textCut := Truncate(m.text, MaxInhoud)
	if subjCut || textCut {
		m.notes = append(m.notes, "Onderwerp of inhoud was te lang voor het klantcontact en is ingekort; de volledige tekst is als bijlage opgeslagen.")
	}
	gelukt := true
	kanaal := m.ch.Kanaal
	if k := strings.TrimSpace(in.Kanaal); k != "" {
		kanaal = k
	}
	m.reg.Klantcontact = Klantcontact{
		UUID: m.kcID, Kanaal: Clip(kanaal, MaxKanaal), Onderwerp: onderwerp, Inhoud: inhoud,
		IndicatieContactGelukt: &gelukt, Taal: m.taal, Vertrouwelijk: in.Vertrouwelijk,
		PlaatsgevondenOp: when, Metadata: limitMetadata(in.Metadata),
	}
	m.notes = append(m.notes, in.Notes...)
}

func (m *mapper) actors() {
	worker := m.o.Worker.Actor()
	m.reg.Actoren = []Actor{worker}
	m.reg.ActorKlantcontacten = []ActorKlantcontact{{
		UUID: ID(m.kcID, "actorklantcontact", worker.UUID), Actor: Ref{UUID: worker.UUID}, Klantcontact: m.ref(),
	}}
	for _, a := range m.in.Actors {
		act := a.Actor()
		if act.UUID == worker.UUID || containsActor(m.reg.Actoren, act.UUID) {
			continue
		}
		m.reg.Actoren = append(m.reg.Actoren, act)
		m.reg.ActorKlantcontacten = append(m.reg.ActorKlantcontacten, ActorKlantcontact{
			UUID: ID(m.kcID, "actorklantcontact", act.UUID), Actor: Ref{UUID: act.UUID}, Klantcontact: m.ref(),
		})
	}
}

func onderwerpOrDefault(s string) string {
	if s == "" {
		return noSubject
	}
	return s
}

func authorOf(s Sender) string {
	for _, v := range []string{s.Name, s.Organisation, s.Address, s.Phone} {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return "Onbekende afzender"
}

var spaceRun = regexp.MustCompile(`\s+`)

func collapseSpace(s string) string { return spaceRun.ReplaceAllString(s, " ") }

// limitMetadata cuts every value to 255 characters. Reference lists keep their last
// entries, which matter most for threading.
func limitMetadata(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.ToValidUTF8(in[k], "\uFFFD")
		if v == "" {
			continue
		}
		if k == "references" {
			v = lastFields(v, MaxMetadataValue)
		}
		out[k] = Clip(v, MaxMetadataValue)
	}
	return out
}

func lastFields(v string, max int) string {
	f := strings.Fields(v)
	out := ""
	for i := len(f) - 1; i >= 0; i-- {
		cand := f[i]
		if out != "" {
			cand += " " + out
		}
		if len([]rune(cand)) > max {
			break
		}
		out = cand
	}
	if out == "" && len(f) > 0 {
		return Clip(f[len(f)-1], max)
	}
	return out
}

func limitAdres(a Adres) Adres {
	a.Straatnaam = Clip(a.Straatnaam, 255)
	a.Stad = Clip(a.Stad, 255)
	a.Adresregel1 = Clip(a.Adresregel1, MaxAdresregel)
	a.Adresregel2 = Clip(a.Adresregel2, MaxAdresregel)
	a.Adresregel3 = Clip(a.Adresregel3, MaxAdresregel)
	a.Huisnummertoevoging = Clip(a.Huisnummertoevoging, 20)
	if !postcodeRE.MatchString(a.Postcode) {
		a.Postcode = ""
	}
	if len(a.Land) != 2 {
		a.Land = ""
	}
	if a.Huisnummer != nil && (*a.Huisnummer < 1 || *a.Huisnummer > 99999) {
		a.Huisnummer = nil
	}
	if !bagRE.MatchString(a.NummeraanduidingID) {
		a.NummeraanduidingID = ""
	}
	return a
}

var (
	postcodeRE = regexp.MustCompile(`^[1-9][0-9]{3} [A-Z]{2}$`)
	taalRE     = regexp.MustCompile(`^[a-z]{3}$`)
	uuidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	bagRE      = regexp.MustCompile(`^[0-9]{16}$`)
	phoneRE    = regexp.MustCompile(`^(0[1-9][0-9]{8}|\+[0-9]{9,15}|00[0-9]{7,13})$`)
)

// ValidPhone reports whether p is a telefoonnummer Open Klant accepts.
func ValidPhone(p string) bool {
	if !phoneRE.MatchString(p) {
		return false
	}
	for _, bad := range []string{"0800", "0900", "1400", "140"} {
		if strings.HasPrefix(p, bad) {
			return false
		}
	}
	return true
}
