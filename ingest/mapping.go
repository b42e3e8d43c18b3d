package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ActorSpec describes an actor the registration links to.
type ActorSpec struct {
	// UUID is the actor's uuid in Open Klant. Empty: derived from Naam and SoortActor.
	UUID         string
	Naam         string
	SoortActor   string // geautomatiseerde_actor or organisatorische_eenheid
	Functie      string // geautomatiseerde_actor only, required there (≤40)
	Omschrijving string
	Emailadres   string // organisatorische_eenheid only
	// Identificator identifies the actor in an external register (optional).
	Identificator *Identificator
}

// ID returns the actor's uuid.
func (a ActorSpec) ID() string {
	if a.UUID != "" {
		return a.UUID
	}
	return ID("actor", a.SoortActor, a.Naam)
}

// Actor returns the Open Klant actor record.
func (a ActorSpec) Actor() Actor {
	act := Actor{UUID: a.ID(), Naam: Clip(a.Naam, MaxNaam), SoortActor: a.SoortActor, IndicatieActief: true, Actoridentificator: a.Identificator}
	switch a.SoortActor {
	case "geautomatiseerde_actor":
		act.ActorIdentificatie = map[string]string{"functie": Clip(a.Functie, 40)}
		if a.Omschrijving != "" {
			act.ActorIdentificatie["omschrijving"] = Clip(a.Omschrijving, 200)
		}
	case "organisatorische_eenheid":
		m := map[string]string{}
		if a.Omschrijving != "" {
			m["omschrijving"] = Clip(a.Omschrijving, 200)
		}
		if a.Emailadres != "" {
			m["emailadres"] = a.Emailadres
		}
		if len(m) > 0 {
			act.ActorIdentificatie = m
		}
	}
	return act
}

// TaskSpec is an interne taak the routing chose.
type TaskSpec struct {
	GevraagdeHandeling string
	Toelichting        string
	Actors             []ActorSpec
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
	// Location is used to render dates (creatiedatum). Nil: Europe/Amsterdam or UTC.
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
		if loc, err := time.LoadLocation("Europe/Amsterdam"); err == nil {
			m.Location = loc
		} else {
			m.Location = time.UTC
		}
	}
	return m
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
	ch, ok := o.Channels[in.Channel]
	if !ok {
		ch = DefaultChannels[in.Channel]
	}
	if ch.Kanaal == "" {
		ch.Kanaal = in.Channel
	}
	kcID := KlantcontactID(in.Channel, in.Identity)
	kcRef := Ref{UUID: kcID}
	when := in.SentAt
	if when.IsZero() {
		when = in.ReceivedAt
	}
	when = when.UTC().Truncate(time.Second)
	datum := when.In(o.Location).Format("2006-01-02")

	subject := strings.TrimSpace(collapseSpace(in.Subject))
	onderwerp, subjCut := Truncate(subject, MaxOnderwerp)
	if onderwerp == "" {
		onderwerp = noSubject
	}
	text := strings.TrimSpace(strings.ReplaceAll(in.Text, "\r\n", "\n"))
	inhoud, textCut := Truncate(text, MaxInhoud)

	gelukt := true
	kc := Klantcontact{
		UUID:                   kcID,
		Kanaal:                 Clip(ch.Kanaal, MaxKanaal),
		Onderwerp:              onderwerp,
		Inhoud:                 inhoud,
		IndicatieContactGelukt: &gelukt,
		Taal:                   o.Taal,
		Vertrouwelijk:          false,
		PlaatsgevondenOp:       when,
		Metadata:               limitMetadata(in.Metadata),
	}

	reg := Registration{Klantcontact: kc}
	worker := o.Worker.Actor()
	reg.Actoren = []Actor{worker}
	reg.ActorKlantcontacten = []ActorKlantcontact{{
		UUID: ID(kcID, "actorklantcontact", worker.UUID), Actor: Ref{UUID: worker.UUID}, Klantcontact: kcRef,
	}}

	// Betrokkene: the sender.
	notes := append([]string(nil), in.Notes...)
	bet := Betrokkene{
		UUID:            ID(kcID, "betrokkene", "afzender"),
		HadKlantcontact: kcRef,
		Rol:             "klant",
		Initiator:       true,
		Organisatienaam: Clip(strings.TrimSpace(in.Sender.Organisation), MaxNaam),
		Contactnaam:     contactnaam(in.Sender),
	}
	if id := strings.TrimSpace(in.Sender.PartijID); uuidRE.MatchString(id) {
		bet.WasPartij = &Ref{UUID: id}
	}
	if in.Sender.Postal != nil {
		a := limitAdres(*in.Sender.Postal)
		bet.Correspondentieadres = &a
	}
	reg.Betrokkenen = []Betrokkene{bet}
	betRef := &Ref{UUID: bet.UUID}
	addAdres := func(tag, adres, soort, omschrijving string) {
		reg.DigitaleAdressen = append(reg.DigitaleAdressen, DigitaalAdres{
			UUID: ID(kcID, "digitaaladres", tag), VerstrektDoorBetrokkene: betRef,
			Adres: adres, SoortDigitaalAdres: soort, Omschrijving: Clip(omschrijving, MaxOmschrijvingAdres),
		})
	}
	from := NormaliseEmail(in.Sender.Address)
	switch {
	case from != "" && ValidEmail(from):
		addAdres("afzender", from, "email", ch.AdresOmschrijving)
	case from != "":
		notes = append(notes, "Het afzenderadres is ongeldig of langer dan 80 tekens en is niet als digitaal adres vastgelegd; zie het originele bericht.")
	case !in.Sender.Known():
		notes = append(notes, "Het bericht heeft geen (bruikbare) afzender; zie het originele bericht.")
	}
	if app := strings.TrimSpace(in.Sender.AppID); app != "" {
		addAdres("app", Clip(app, MaxDigitaalAdres), "overig", "App-identiteit")
	}
	if rt := NormaliseEmail(in.ReplyTo); rt != "" && rt != from && ValidEmail(rt) {
		addAdres("antwoordadres", rt, "email", "Antwoordadres (Reply-To)")
	}
	if p := strings.TrimSpace(in.Sender.Phone); p != "" {
		if ValidPhone(p) {
			addAdres("telefoon", p, "telefoonnummer", ch.AdresOmschrijving)
		} else {
			addAdres("telefoon", Clip(p, MaxDigitaalAdres), "overig", "Telefoonnummer (niet gecontroleerd)")
		}
	}

	// Informatieobjecten: the original, each attachment, and a full-text rendition.
	auteur := authorOf(in.Sender)
	addObject := func(tag, soort, titel string, c Content) {
		ioID := ID(kcID, "informatieobject", tag)
		name := c.Filename
		key := objectKey(o.KeyPrefix, kcID, ioID, name, c.ContentType)
		if name == "" {
			name = path.Base(key)
		}
		ct := MediaType(c.ContentType)
		reg.Informatieobjecten = append(reg.Informatieobjecten, Informatieobject{
			UUID: ioID, Bronorganisatie: o.Bronorganisatie, Informatieobjecttype: o.Informatieobjecttype,
			Creatiedatum: datum, Titel: ClipEllipsis(titel, MaxTitel), Auteur: ClipEllipsis(auteur, MaxNaam),
			Taal: o.Taal, Status: "definitief", Formaat: Clip(ct, 255),
			Bestandsnaam: ClipEllipsis(SafeFilename(name), MaxBestandsnaam), Bestandsomvang: c.Size,
			Vertrouwelijkheidaanduiding: o.Vertrouwelijkheidaanduiding,
			Integriteit:                 Integriteit{Algoritme: "sha_256", Waarde: c.SHA256, Datum: datum},
			Soort:                       soort, ObjectKey: key,
		})
		reg.Bijlagen = append(reg.Bijlagen, Bijlage{
			UUID: ID(kcID, "bijlage", ioID), WasBijlageVanKlantcontact: kcRef,
			Bijlageidentificator: Identificator{ObjectID: ioID, CodeObjecttype: o.CodeObjecttype, CodeRegister: o.CodeRegister, CodeSoortObjectID: o.CodeSoortObjectID},
		})
	}
	var objects []Stored
	add := func(tag, soort, titel string, c Content) {
		addObject(tag, soort, titel, c)
		objects = append(objects, Stored{Key: reg.Informatieobjecten[len(reg.Informatieobjecten)-1].ObjectKey, Content: c})
	}
	if in.Original.Open == nil {
		return nil, Permanentf(ReasonInvalid, "mapping intake: the original is missing")
	}
	add("origineel", "origineel", "Origineel: "+onderwerpOrDefault(subject), in.Original)
	for i, a := range in.Attachments {
		if a.Filename == "" {
			a.Filename = fmt.Sprintf("bijlage-%d", i+1)
			if ext := extByType[MediaType(a.ContentType)]; ext != "" {
				a.Filename += "." + ext
			}
		}
		titel := a.Filename
		add(fmt.Sprintf("bijlage/%d/%s", i, a.SHA256), "bijlage", titel, a)
	}
	if subjCut || textCut {
		full := "Onderwerp: " + subject + "\n\n" + text + "\n"
		add("volledige_tekst", "volledige_tekst", "Volledige tekst: "+onderwerpOrDefault(subject), TextContent("volledige-tekst.txt", full))
		notes = append(notes, "Onderwerp of inhoud was te lang voor het klantcontact en is ingekort; de volledige tekst is als bijlage opgeslagen.")
	}

	reg.Onderwerpobjecten = onderwerpobjecten(in, &o, ch, kcID)

	// Interne taken chosen by the routing rules.
	if o.Router != nil {
		for i, t := range o.Router.Route(in) {
			var refs []Ref
			for _, a := range t.Actors {
				act := a.Actor()
				refs = append(refs, Ref{UUID: act.UUID})
				reg.Actoren = appendActor(reg.Actoren, act)
			}
			toel := t.Toelichting
			if len(notes) > 0 {
				toel = strings.TrimSpace(toel + "\n\n" + strings.Join(notes, "\n"))
			}
			reg.InterneTaken = append(reg.InterneTaken, InterneTaak{
				UUID: ID(kcID, "internetaak", fmt.Sprint(i)), AanleidinggevendKlantcontact: kcRef,
				GevraagdeHandeling:   ClipEllipsis(t.GevraagdeHandeling, MaxGevraagdeHandeling),
				ToegewezenAanActoren: refs, Toelichting: ClipEllipsis(toel, MaxToelichting), Status: "te_verwerken",
			})
		}
	}
	if reg.DigitaleAdressen == nil {
		reg.DigitaleAdressen = []DigitaalAdres{}
	}
	if reg.Onderwerpobjecten == nil {
		reg.Onderwerpobjecten = []Onderwerpobject{}
	}
	if reg.InterneTaken == nil {
		reg.InterneTaken = []InterneTaak{}
	}
	return &Mapped{Registration: reg, Objects: objects}, nil
}

func appendActor(list []Actor, a Actor) []Actor {
	for _, x := range list {
		if x.UUID == a.UUID {
			return list
		}
	}
	return append(list, a)
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

// SafeFilename reduces a sender-given file name to its last path element without control
// characters, so it is safe to show and to offer as a download name. It is never used to
// build a storage key.
func SafeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.TrimLeft(name, ".")
	name = strings.TrimSpace(name)
	if name == "" || name == "/" {
		return "bestand"
	}
	return name
}

var extRE = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

var extByType = map[string]string{
	"message/rfc822":   "eml",
	"text/plain":       "txt",
	"text/html":        "html",
	"application/pdf":  "pdf",
	"image/jpeg":       "jpg",
	"image/png":        "png",
	"image/tiff":       "tif",
	"application/json": "json",
}

// objectKey is the deterministic, safe key of an informatieobject: prefix, klantcontact id,
// informatieobject id and an extension that is only letters and digits.
func objectKey(prefix, kcID, ioID, filename, contentType string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(SafeFilename(filename)), "."))
	if !extRE.MatchString(ext) {
		ext = extByType[MediaType(contentType)]
	}
	key := kcID + "/" + ioID
	if ext != "" {
		key += "." + ext
	}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		key = prefix + "/" + key
	}
	return key
}

// TextContent returns Content holding the given text as a UTF-8 text file.
func TextContent(filename, text string) Content {
	return BytesContent(filename, "text/plain; charset=utf-8", []byte(text))
}

// BytesContent returns Content over an in-memory byte slice.
func BytesContent(filename, contentType string, b []byte) Content {
	sum := sha256.Sum256(b)
	return Content{
		Filename: filename, ContentType: contentType, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
	}
}

// MediaType returns the lower-case media type of a Content-Type value without its
// parameters, or application/octet-stream when there is none.
func MediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	return strings.ToLower(mt)
}
