package ingest

import (
	"encoding/json"
	"fmt"
	"time"
)

// CloudEvents types of the events Instroom emits.
const (
	TypeKlantcontact = "nl.instroom.klantcontact.geregistreerd"
	TypeInternetaak  = "nl.instroom.internetaak.aangemaakt"
	TypeDeadLetter   = "nl.instroom.item.mislukt"
)

// Topics names the topics events go to.
type Topics struct {
	Klantcontacten string
	Internetaken   string
	DeadLetter     string
}

func (t Topics) withDefaults() Topics {
	if t.Klantcontacten == "" {
		t.Klantcontacten = "klantcontacten"
	}
	if t.Internetaken == "" {
		t.Internetaken = "internetaken"
	}
	if t.DeadLetter == "" {
		t.DeadLetter = "instroom.deadletter"
	}
	return t
}

// InternetaakEvent is the data of an internetaken event: the task with what a work queue
// shows about its klantcontact, so no join is needed.
type InternetaakEvent struct {
	InterneTaak  InterneTaak      `json:"interneTaak"`
	Klantcontact KlantcontactInfo `json:"klantcontact"`
	Afzender     AfzenderInfo     `json:"afzender"`
	Actoren      []Actor          `json:"actoren"`
}

// KlantcontactInfo summarises the klantcontact a task belongs to.
type KlantcontactInfo struct {
	UUID             string    `json:"uuid"`
	Kanaal           string    `json:"kanaal"`
	Onderwerp        string    `json:"onderwerp"`
	PlaatsgevondenOp time.Time `json:"plaatsgevondenOp"`
	Bijlagen         int       `json:"bijlagen"`
}

// AfzenderInfo summarises the sender of the klantcontact.
type AfzenderInfo struct {
	Contactnaam      *Contactnaam    `json:"contactnaam"`
	Organisatienaam  string          `json:"organisatienaam,omitempty"`
	DigitaleAdressen []DigitaalAdres `json:"digitaleAdressen"`
}

// DeadLetterEvent is the data of a dead-letter event: which item failed and why. It holds
// no message content.
type DeadLetterEvent struct {
	Source  string    `json:"source"`
	Ref     string    `json:"ref"`
	Channel string    `json:"channel"`
	Reason  string    `json:"reason"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
	// SHA256 is the lowercase hex SHA-256 of the item's raw bytes as its source yielded
	// them (a letter: its sidecar), when they could be read; never for too_large. With
	// Size and ReceivedAt it finds the item in its failed place when its reference
	// changed on the way there (IMAP: a new UID), for instroom replay -dead-letters.
	SHA256 string `json:"sha256,omitempty"`
	// Size is the item's size in bytes, when known.
	Size int64 `json:"size,omitempty"`
	// ReceivedAt is when the source received the item (IMAP INTERNALDATE, file time).
	ReceivedAt time.Time `json:"receivedAt,omitzero"`
}

// Events builds the klantcontacten event and one internetaken event per task. Every byte
// is derived from the registration, so a redone item yields identical events.
func Events(reg *Registration, ceSource string, topics Topics) ([]Message, error) {
	topics = topics.withDefaults()
	kc := reg.Klantcontact
	data, err := json.Marshal(reg)
	if err != nil {
		return nil, fmt.Errorf("encoding registration: %w", err)
	}
	msgs := []Message{{
		Topic:   topics.Klantcontacten,
		Key:     kc.UUID,
		Headers: ceHeaders(ID("event", topics.Klantcontacten, kc.UUID), ceSource, TypeKlantcontact, kc.UUID, kc.PlaatsgevondenOp),
		Value:   data,
	}}
	afz := AfzenderInfo{DigitaleAdressen: reg.DigitaleAdressen}
	if len(reg.Betrokkenen) > 0 {
		afz.Contactnaam = reg.Betrokkenen[0].Contactnaam
		afz.Organisatienaam = reg.Betrokkenen[0].Organisatienaam
	}
	info := KlantcontactInfo{UUID: kc.UUID, Kanaal: kc.Kanaal, Onderwerp: kc.Onderwerp, PlaatsgevondenOp: kc.PlaatsgevondenOp, Bijlagen: len(reg.Bijlagen)}
	for _, t := range reg.InterneTaken {
		var actors []Actor
		for _, r := range t.ToegewezenAanActoren {
			for _, a := range reg.Actoren {
				if a.UUID == r.UUID {
					actors = append(actors, a)
				}
			}
		}
		d, err := json.Marshal(InternetaakEvent{InterneTaak: t, Klantcontact: info, Afzender: afz, Actoren: actors})
		if err != nil {
			return nil, fmt.Errorf("encoding interne taak: %w", err)
		}
		msgs = append(msgs, Message{
			Topic:   topics.Internetaken,
			Key:     kc.UUID,
			Headers: ceHeaders(ID("event", topics.Internetaken, t.UUID), ceSource, TypeInternetaak, t.UUID, kc.PlaatsgevondenOp),
			Value:   d,
		})
	}
	return msgs, nil
}

// DeadLetter builds the dead-letter event for a failed item.
func DeadLetter(ev DeadLetterEvent, ceSource string, topics Topics) Message {
	topics = topics.withDefaults()
	d, _ := json.Marshal(ev) // a struct of strings and a time: cannot fail
	return Message{
		Topic:   topics.DeadLetter,
		Key:     ev.Ref,
		Headers: ceHeaders(ID("event", topics.DeadLetter, ev.Source, ev.Ref, ev.Reason), ceSource, TypeDeadLetter, ev.Ref, ev.At),
		Value:   d,
	}
}

func ceHeaders(id, source, typ, subject string, at time.Time) []Header {
	return []Header{
		{"ce_specversion", "1.0"},
		{"ce_id", id},
		{"ce_source", source},
		{"ce_type", typ},
		{"ce_subject", subject},
		{"ce_time", at.UTC().Format(time.RFC3339)},
		{"content-type", "application/json"},
	}
}
