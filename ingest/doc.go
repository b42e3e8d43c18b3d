// Package ingest is Instroom's domain: the registration model (shaped as the Open Klant
// Klantinteracties request bodies), deterministic ids, the mapping from a channel-neutral
// Intake to a Registration, the routing rules that choose interne taken, and the pipeline
// with its delivery rules. It declares the interfaces it consumes (Source, Parser,
// BlobStore, Publisher, DropZone) and imports no other Instroom package.
//
// # Delivery
//
// Run reads an item from a Source, parses it with the channel's Parser, maps it, stores
// every informatieobject in the BlobStore, publishes the klantcontacten event and one
// internetaken event per task, and only then acks the item. A crash at any point leaves
// the item unacked, so it is handled again: at-least-once.
//
// Every id is a UUIDv5 under Namespace, named from the channel and the item's identity
// (for mail: the Message-ID plus a hash of From, Date and Subject; without a Message-ID, a
// hash of the raw message). A redone item therefore yields byte-identical events and the
// same object keys, so a retry overwrites instead of doubling: effectively exactly-once
// for consumers that upsert by uuid or deduplicate by CloudEvents id.
//
// # Errors
//
// Errors are temporary unless marked with Permanent. Run retries a temporary error in
// place with exponential backoff for as long as it lasts (a downstream outage never moves
// items to failed). A permanent error, or a panic while handling the item, publishes a
// dead-letter event with a machine-readable reason and acks the item with the error, so
// the source moves it to its failed place; the source then goes on with the next item.
//
// # Limits
//
// Map applies every limit of the contract (onderwerp 200, inhoud 1000, digitaal adres 80
// and a valid e-mail address, gevraagdeHandeling 200, toelichting 1000, metadata values
// 255, ...). Text is cut on a rune boundary; when the subject or body was cut, the full
// text is kept as an extra informatieobject, so no content is lost.
//
// # Citizen data
//
// Intakes hold citizen data (names, addresses, subjects, bodies, file names). Nothing in
// this package logs them or puts them in error strings; logs carry ids, counts and
// reasons only.
package ingest
