// Package bus publishes events: to Kafka (production) or to an append-only local event
// log (the embedded default).
package bus

import "errors"

// Header is one event header.
type Header struct {
	Key   string
	Value string
}

// Message is one event to publish.
type Message struct {
	Topic   string
	Key     string
	Headers []Header
	Value   []byte
}

// ErrTooLarge is returned when the bus refuses a message for its size; retrying cannot
// help.
var ErrTooLarge = errors.New("bus: message too large")
