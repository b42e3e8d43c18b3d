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
}

// Sender is the person or organisation that sent a message.
type Sender struct {
	Name         string
	Address      string // e-mail address, as given
	Phone        string
	Organisation string
	Postal       *Adres
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
