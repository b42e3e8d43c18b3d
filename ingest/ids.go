package ingest

import (
	"github.com/google/uuid"
)

// Namespace is the fixed UUIDv5 namespace under which every Instroom id is derived. It
// never changes: changing it would turn every reprocessed item into a new klantcontact.
var Namespace = uuid.MustParse("6f1c9b2e-3d4a-5b8c-9e0f-1a2b3c4d5e6f")

// ID derives a deterministic UUIDv5 from the namespace and the given name parts.
func ID(parts ...string) string {
	n := ""
	for i, p := range parts {
		if i > 0 {
			n += "\x1f"
		}
		n += p
	}
	return uuid.NewSHA1(Namespace, []byte(n)).String()
}

// KlantcontactID is the id of the klantcontact registered for a message with the given
// channel identity.
func KlantcontactID(channel, identity string) string {
	return ID("klantcontact", channel, identity)
}
