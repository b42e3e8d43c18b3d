// Package intakeapi is the shared front door of the vendor intake API (contracts/
// intake-api.md): vendor authentication, Standard Webhooks signatures and replays, rate
// limits, RFC 9457 problem details, the Dutch API Design Rules headers, and the pieces of
// the OpenAPI document. Channels build their endpoints on it; the host (cmd) serves them
// on its one intake server.
//
// The host makes one Server, adds each channel's routes with Handle and serves it. For
// every request the Server checks path and method, the vendor's token, its channel and
// its rate limit (steps 1–4 of the contract's §5) and puts the vendor in the request
// context; a POST handler then calls Body for steps 5–7 (request media type, size,
// signature and replay) and answers the rest itself, with WriteProblem for errors.
package intakeapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// InvalidParam is one problem with a request: a part name or a JSON Pointer into the
// document, the failing JSON Schema keyword (or json, unknown-part, duplicate-part), and
// a Dutch reason that never echoes a submitted value.
type InvalidParam struct {
	Name   string `json:"name"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Code is the last part of a problem type, urn:instroom:probleem:<code> (§6).
type Code string

// The problem codes of the contract's §6.
const (
	CodeInvalid          Code = "ongeldig"
	CodeUnauthenticated  Code = "niet-geauthenticeerd"
	CodeBadSignature     Code = "handtekening-ongeldig"
	CodeForbidden        Code = "niet-toegestaan"
	CodeNotFound         Code = "niet-gevonden"
	CodeMethodNotAllowed Code = "methode-niet-toegestaan"
	CodeConflict         Code = "conflict"
	CodeTooLarge         Code = "te-groot"
	CodeUnsupported      Code = "mediatype-niet-ondersteund"
	CodeTooManyRequests  Code = "te-veel-verzoeken"
	CodeInternal         Code = "interne-fout"
	CodeUnavailable      Code = "niet-beschikbaar"
)

// UnavailableRetryAfter is the Retry-After of a 503 (seconds).
const UnavailableRetryAfter = 30

// problemKind is the fixed status and title of a code.
type problemKind struct {
	status int
	title  string
}

func kindOf(c Code) problemKind {
	switch c {
	case CodeInvalid:
		return problemKind{http.StatusBadRequest, "De aanlevering is ongeldig."}
	case CodeUnauthenticated:
		return problemKind{http.StatusUnauthorized, "Niet geauthenticeerd."}
	case CodeBadSignature:
		return problemKind{http.StatusUnauthorized, "De handtekening is ongeldig."}
	case CodeForbidden:
		return problemKind{http.StatusForbidden, "Niet toegestaan."}
	case CodeNotFound:
		return problemKind{http.StatusNotFound, "Niet gevonden."}
	case CodeMethodNotAllowed:
		return problemKind{http.StatusMethodNotAllowed, "Methode niet toegestaan."}
	case CodeConflict:
		return problemKind{http.StatusConflict, "Conflict met een eerdere aanlevering."}
	case CodeTooLarge:
		return problemKind{http.StatusRequestEntityTooLarge, "De aanlevering is te groot."}
	case CodeUnsupported:
		return problemKind{http.StatusUnsupportedMediaType, "Mediatype niet ondersteund."}
	case CodeTooManyRequests:
		return problemKind{http.StatusTooManyRequests, "Te veel verzoeken."}
	case CodeUnavailable:
		return problemKind{http.StatusServiceUnavailable, "Tijdelijk niet beschikbaar."}
	default:
		return problemKind{http.StatusInternalServerError, "Interne fout."}
	}
}

// Codes lists every problem code, for documentation and tests.
func Codes() []Code {
	return []Code{CodeInvalid, CodeUnauthenticated, CodeBadSignature, CodeForbidden, CodeNotFound,
		CodeMethodNotAllowed, CodeConflict, CodeTooLarge, CodeUnsupported, CodeTooManyRequests,
		CodeInternal, CodeUnavailable}
}

// Status is the HTTP status of a problem code.
func (c Code) Status() int { return kindOf(c).status }

// Title is the fixed Dutch title of a problem code.
func (c Code) Title() string { return kindOf(c).title }

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Status        int            `json:"status"`
	Detail        string         `json:"detail,omitempty"`
	InvalidParams []InvalidParam `json:"invalidParams,omitempty"`
}

// NewProblem is the problem of code with detail (a fixed text, never a submitted value)
// and the invalid params found.
func NewProblem(c Code, detail string, params []InvalidParam) Problem {
	k := kindOf(c)
	return Problem{Type: "urn:instroom:probleem:" + string(c), Title: k.title, Status: k.status, Detail: detail, InvalidParams: params}
}

// WriteProblem answers with the problem of code as application/problem+json. A 503 gets
// Retry-After: 30; the other extra headers of §6 (WWW-Authenticate, Allow, Retry-After of
// a 429) are set by whoever answers with them, before calling WriteProblem.
func WriteProblem(w http.ResponseWriter, c Code, detail string, params []InvalidParam) {
	p := NewProblem(c, detail, params)
	if c == CodeUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(UnavailableRetryAfter))
	}
	writeJSON(w, "application/problem+json", p.Status, p)
}

// WriteInvalid answers 400 with every problem found.
func WriteInvalid(w http.ResponseWriter, params []InvalidParam) {
	detail := "1 probleem; zie invalidParams."
	if len(params) != 1 {
		detail = strconv.Itoa(len(params)) + " problemen; zie invalidParams."
	}
	WriteProblem(w, CodeInvalid, detail, params)
}

// WriteJSON answers with v as application/json.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeJSON(w, "application/json", status, v)
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		contentType, status = "application/problem+json", http.StatusInternalServerError
		b, _ = json.Marshal(NewProblem(CodeInternal, "", nil))
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
