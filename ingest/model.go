package ingest

import "time"

// The types below are shaped as the request bodies of the Open Klant Klantinteracties API
// (contracts/klantinteracties.md), plus the deterministic uuid of each record. A consumer that
// writes a registration into Open Klant can send each part unchanged after removing "uuid"
// (or use it as the identity it stores beside the server-generated one).

// Ref points at another Klantinteracties object, as the API's ForeignKey objects do.
type Ref struct {
	UUID string `json:"uuid"`
}

// Klantcontact is one contact between the municipality and a citizen or company.
type Klantcontact struct {
	UUID                   string            `json:"uuid"`
	Kanaal                 string            `json:"kanaal"`
	Onderwerp              string            `json:"onderwerp"`
	Inhoud                 string            `json:"inhoud"`
	IndicatieContactGelukt *bool             `json:"indicatieContactGelukt"`
	Taal                   string            `json:"taal"`
	Vertrouwelijk          bool              `json:"vertrouwelijk"`
	PlaatsgevondenOp       time.Time         `json:"plaatsgevondenOp"`
	Metadata               map[string]string `json:"metadata"`
}

// Contactnaam is the name a betrokkene wants to be addressed by.
type Contactnaam struct {
	Voorletters           string `json:"voorletters,omitempty"`
	Voornaam              string `json:"voornaam,omitempty"`
	VoorvoegselAchternaam string `json:"voorvoegselAchternaam,omitempty"`
	Achternaam            string `json:"achternaam,omitempty"`
}

// Adres is the address group of a betrokkene (correspondentieadres, bezoekadres).
type Adres struct {
	NummeraanduidingID  string `json:"nummeraanduidingId,omitempty"`
	Straatnaam          string `json:"straatnaam,omitempty"`
	Huisnummer          *int   `json:"huisnummer,omitempty"`
	Huisnummertoevoging string `json:"huisnummertoevoeging,omitempty"`
	Postcode            string `json:"postcode,omitempty"`
	Stad                string `json:"stad,omitempty"`
	Adresregel1         string `json:"adresregel1,omitempty"`
	Adresregel2         string `json:"adresregel2,omitempty"`
	Adresregel3         string `json:"adresregel3,omitempty"`
	Land                string `json:"land,omitempty"`
}

// Betrokkene is a person or organisation taking part in a klantcontact.
type Betrokkene struct {
	UUID                 string       `json:"uuid"`
	HadKlantcontact      Ref          `json:"hadKlantcontact"`
	WasPartij            *Ref         `json:"wasPartij"`
	Rol                  string       `json:"rol"`
	Initiator            bool         `json:"initiator"`
	Organisatienaam      string       `json:"organisatienaam,omitempty"`
	Contactnaam          *Contactnaam `json:"contactnaam"`
	Correspondentieadres *Adres       `json:"correspondentieadres"`
}

// DigitaalAdres is an e-mail address, phone number or other digital address given by a
// betrokkene for the follow-up of this contact.
type DigitaalAdres struct {
	UUID                    string `json:"uuid"`
	VerstrektDoorBetrokkene *Ref   `json:"verstrektDoorBetrokkene"`
	VerstrektDoorPartij     *Ref   `json:"verstrektDoorPartij"`
	Adres                   string `json:"adres"`
	SoortDigitaalAdres      string `json:"soortDigitaalAdres"`
	Omschrijving            string `json:"omschrijving"`
}

// Identificator identifies an object in an external register (bijlage, onderwerpobject, actor).
type Identificator struct {
	ObjectID          string `json:"objectId"`
	CodeObjecttype    string `json:"codeObjecttype"`
	CodeRegister      string `json:"codeRegister"`
	CodeSoortObjectID string `json:"codeSoortObjectId"`
}

// Bijlage points from a klantcontact to an informatieobject.
type Bijlage struct {
	UUID                      string        `json:"uuid"`
	WasBijlageVanKlantcontact Ref           `json:"wasBijlageVanKlantcontact"`
	Bijlageidentificator      Identificator `json:"bijlageidentificator"`
}

// Onderwerpobject says what a klantcontact was about (a zaak, an earlier klantcontact, ...).
type Onderwerpobject struct {
	UUID                         string         `json:"uuid"`
	Klantcontact                 Ref            `json:"klantcontact"`
	WasKlantcontact              *Ref           `json:"wasKlantcontact"`
	Onderwerpobjectidentificator *Identificator `json:"onderwerpobjectidentificator"`
}

// Actor is a medewerker, organisatorische eenheid or geautomatiseerde actor.
type Actor struct {
	UUID               string            `json:"uuid"`
	Naam               string            `json:"naam"`
	SoortActor         string            `json:"soortActor"`
	IndicatieActief    bool              `json:"indicatieActief"`
	Actoridentificator *Identificator    `json:"actoridentificator"`
	ActorIdentificatie map[string]string `json:"actorIdentificatie,omitempty"`
}

// ActorKlantcontact links an actor to a klantcontact it took part in.
type ActorKlantcontact struct {
	UUID         string `json:"uuid"`
	Actor        Ref    `json:"actor"`
	Klantcontact Ref    `json:"klantcontact"`
}

// InterneTaak is follow-up work for a colleague, caused by a klantcontact.
type InterneTaak struct {
	UUID                         string `json:"uuid"`
	AanleidinggevendKlantcontact Ref    `json:"aanleidinggevendKlantcontact"`
	GevraagdeHandeling           string `json:"gevraagdeHandeling"`
	ToegewezenAanActoren         []Ref  `json:"toegewezenAanActoren"`
	Toelichting                  string `json:"toelichting"`
	Status                       string `json:"status"`
}

// Integriteit is the checksum of an informatieobject's content (Documenten API).
type Integriteit struct {
	Algoritme string `json:"algoritme"`
	Waarde    string `json:"waarde"`
	Datum     string `json:"datum"`
}

// Informatieobject carries the Documenten API metadata of one stored object (the original
// message, an attachment or a full-text rendition) and where its content is stored.
type Informatieobject struct {
	UUID                        string      `json:"uuid"`
	Bronorganisatie             string      `json:"bronorganisatie,omitempty"`
	Informatieobjecttype        string      `json:"informatieobjecttype,omitempty"`
	Creatiedatum                string      `json:"creatiedatum"`
	Titel                       string      `json:"titel"`
	Auteur                      string      `json:"auteur"`
	Taal                        string      `json:"taal"`
	Status                      string      `json:"status"`
	Formaat                     string      `json:"formaat"`
	Bestandsnaam                string      `json:"bestandsnaam"`
	Bestandsomvang              int64       `json:"bestandsomvang"`
	Vertrouwelijkheidaanduiding string      `json:"vertrouwelijkheidaanduiding"`
	Beschrijving                string      `json:"beschrijving,omitempty"`
	Integriteit                 Integriteit `json:"integriteit"`
	// Soort says what the object is to this registration: "origineel", "aanlevering"
	// (delivery metadata such as a letter's sidecar), "bijlage" or "volledige_tekst" (the
	// full text: kept when a text field had to be shortened, and always for letters and
	// transcripts).
	Soort string `json:"soort"`
	// ObjectKey is the object's key in the blob store.
	ObjectKey string `json:"objectKey"`
}

// Registration is everything one intake item becomes: the klantcontact with all the records
// that point at it, in the order a consumer creates them in Open Klant.
type Registration struct {
	Klantcontact        Klantcontact        `json:"klantcontact"`
	Actoren             []Actor             `json:"actoren"`
	ActorKlantcontacten []ActorKlantcontact `json:"actorklantcontacten"`
	Betrokkenen         []Betrokkene        `json:"betrokkenen"`
	DigitaleAdressen    []DigitaalAdres     `json:"digitaleAdressen"`
	Informatieobjecten  []Informatieobject  `json:"informatieobjecten"`
	Bijlagen            []Bijlage           `json:"bijlagen"`
	Onderwerpobjecten   []Onderwerpobject   `json:"onderwerpobjecten"`
	InterneTaken        []InterneTaak       `json:"interneTaken"`
}
