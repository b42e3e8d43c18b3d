// Package intakeapi is the shared front door of the vendor intake API (contracts/
// intake-api.md): vendor authentication, Standard Webhooks signatures and replays, rate
// limits, RFC 9457 problem details, the Dutch API Design Rules headers, and the pieces of
// the OpenAPI document. Channels build their endpoints on it; the host (cmd) serves them
// on its one intake server.
package intakeapi

// InvalidParam is one problem with a request: a part name or a JSON Pointer into the
// document, the failing JSON Schema keyword (or json, unknown-part, duplicate-part), and
// a Dutch reason that never echoes a submitted value.
type InvalidParam struct {
	Name   string `json:"name"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}
