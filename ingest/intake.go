package ingest

import (
	"context"
	"io"
	"time"
)

// Intake is the channel-neutral content of one item, as a channel parsed it.
type Intake struct {
	// Channel names the channel that produced the intake ("email", "brief", "chat").
	Channel string
	// Identity is the stable identity of the message within its channel. Every id of the
	// registration is derived from Channel and Identity (see ids.go).
	Identity string
	// Sender is who sent the message, as far as the channel knows.
	Sender Sender
	// ReplyTo is an extra address the sender asked replies to go to (may be empty).
	ReplyTo string
	// Subject and Text are the full subject and body text, not yet limited.
	Subject string
	Text    string
	// SentAt is when the message says it was sent or took place; zero if unknown.
	SentAt time.Time
	// ReceivedAt is when the municipality received it.
	ReceivedAt time.Time
	// Metadata holds channel references (Message-ID, In-Reply-To, ...). Keys are fixed by
	// the channel; values are limited by the mapping.
	Metadata map[string]string
	// Signals are facts routing rules can match on ("auto-reply", "bounce", ...).
	Signals []string
	// Recipients are the addresses or queues the message was sent to (for routing).
	Recipients []string
	// Original is the raw item as received (the .eml, the scan, the transcript).
	Original Content
	// Attachments are the files that came with the message.
	Attachments []Content
	// Notes are remarks for the colleague who handles the interne taak (for example that
	// the sender address could not be used). They are not logged.
	Notes []string
	// Zaaknummers are zaak identifications the item names explicitly (a letter's sidecar);
	// the mapping adds those its configured patterns find in subject and text.
	Zaaknummers []string
	// Onderwerpen are further objects the item is about, each with all four codes (a
	// transcript's submitted form); they become onderwerpobjecten after the zaken.
	Onderwerpen []Identificator
	// Kanaal is the item's own klantcontact.kanaal (a transcript's WhatsApp); empty: the
	// channel's kanaal.
	Kanaal string
	// Phones are further phone numbers of the sender, each with its own omschrijving (a
	// transcript's call-back number). Each becomes a digitaal adres telefoonnummer, or
	// overig when it does not normalise; one that normalises to an address already added
	// is left out.
	Phones []LabelledPhone
	// Actors are further actors that took part in the contact (a transcript's
	// medewerker); each becomes an actor and an actorklantcontact beside the worker's.
	Actors []ActorSpec
	// Links are channel references to earlier messages this one answers (an e-mail's
	// In-Reply-To and References), as ContactKey values. The pipeline resolves them to
	// the klantcontacten they became, through its ContactIndex.
	Links []string
	// Earlier are the uuids of the klantcontacten Links resolved to; the pipeline sets
	// them before mapping.
	Earlier []string
	// LinkKey is this item's own reference (ContactKey of its Message-ID), recorded in
	// the ContactIndex so that later replies can link to it. Empty: none.
	LinkKey string
	// Cleanup releases what the parser holds for this intake (spool files). The pipeline
	// calls it once the item is handled; it may be nil.
	Cleanup func()
	// Taal is the item's own 3-letter language code; empty: MapOptions.Taal.
	Taal string
	// Vertrouwelijk marks the klantcontact and its informatieobjecten confidential.
	Vertrouwelijk bool
	// Delivery is the delivery metadata (a letter's sidecar), kept as an
	// informatieobject of soort "aanlevering"; nil: none.
	Delivery *Content
	// KeepText keeps the full text as an informatieobject whenever it is not empty (not
	// only when it had to be cut).
	KeepText bool
	// DefaultTasks replace routing.default for this item when no routing rule matched
	// (letters and transcripts have their own default, per the intake contract); nil:
	// routing.default.
	DefaultTasks []TaskSpec
	// Withheld marks the parts kept out of the blob store because a virus was found in
	// them (set by the pipeline, see scan.go); they get no informatieobject.
	Withheld Withheld
}

// LabelledPhone is a phone number as given, with the omschrijving of its digitaal adres.
type LabelledPhone struct {
	Phone        string
	Omschrijving string
}

// ContactKey is the key under which a channel reference (an e-mail Message-ID) is
// recorded in a ContactIndex.
func ContactKey(channel, ref string) string { return channel + "\x1f" + ref }

// Sender is the person or organisation that sent a message, as far as its channel knows
// it: by e-mail address, phone number, postal address, app identity, or not at all.
type Sender struct {
	// Name is the display name as given ("Jan de Vries", "Vries, J. de"); the mapping
	// splits it unless Contactnaam is set.
	Name string
	// Contactnaam is the name already split by the channel (a letter's sidecar).
	Contactnaam  *Contactnaam
	Address      string // e-mail address, as given
	Phone        string
	Organisation string
	Postal       *Adres
	// AppID identifies the sender in a messaging app or chat platform.
	AppID string
	// PartijID is the uuid of the partij in Open Klant when the channel knows it
	// (an authenticated chat); it becomes the betrokkene's wasPartij.
	PartijID string
}

// Known reports whether anything is known to reach the sender by.
func (s Sender) Known() bool {
	return s.Address != "" || s.Phone != "" || s.Postal != nil || s.AppID != "" || s.PartijID != ""
}

// Content is the content of one informatieobject: known size and hash, and a way to
// stream it.
type Content struct {
	Filename    string // as given by the sender; never used to build keys or paths
	ContentType string
	Size        int64
	SHA256      string // lowercase hex
	Open        func(ctx context.Context) (io.ReadCloser, error)
}
