package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/instroom/instroom/ingest"
)

// maxDeadLetterLine bounds one line of a dead-letter file; an event is far smaller.
const maxDeadLetterLine = 1 << 20

// readDeadLetterFile reads the dead letters of instroom replay -dead-letters: a file, or
// standard input for "-".
func readDeadLetterFile(path string, stdin io.Reader) ([]ingest.DeadLetterEvent, error) {
	if path == "-" {
		return readDeadLetters(stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading dead letters: %w", err)
	}
	defer f.Close()
	return readDeadLetters(f)
}

// readDeadLetters reads dead-letter events, one JSON document per line, each in one of
// the shapes they are exported in:
//
//   - the event data as published (kcat -C -t instroom.deadletter -e),
//   - a CloudEvents JSON envelope with the event as data (or data_base64),
//   - a line of the local event log (data/events/instroom.deadletter.jsonl): value,
//   - kcat -J: the event as the string payload.
//
// Blank lines are skipped. An error names the line, never its content.
func readDeadLetters(r io.Reader) ([]ingest.DeadLetterEvent, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxDeadLetterLine)
	var out []ingest.DeadLetterEvent
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		ev, err := decodeDeadLetter(line)
		if err != nil {
			return nil, fmt.Errorf("dead letters, line %d: %w", n, err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading dead letters: %w", err)
	}
	return out, nil
}

// envelope holds the members of every shape readDeadLetters accepts.
type envelope struct {
	ingest.DeadLetterEvent
	SpecVersion string          `json:"specversion"`
	Type        string          `json:"type"`
	Data        json.RawMessage `json:"data"`
	DataBase64  string          `json:"data_base64"`
	Value       json.RawMessage `json:"value"`
	Payload     *string         `json:"payload"`
}

var errNotDeadLetter = errors.New("not a dead-letter event (no source and ref)")

func decodeDeadLetter(line []byte) (ingest.DeadLetterEvent, error) {
	var e envelope
	if err := json.Unmarshal(line, &e); err != nil {
		return ingest.DeadLetterEvent{}, errors.New("not a JSON object")
	}
	var inner []byte
	switch {
	case e.SpecVersion != "":
		if e.Type != "" && e.Type != ingest.TypeDeadLetter {
			return ingest.DeadLetterEvent{}, fmt.Errorf("a CloudEvent of type %q, not %s", e.Type, ingest.TypeDeadLetter)
		}
		inner = e.Data
		if e.DataBase64 != "" {
			b, err := base64.StdEncoding.DecodeString(e.DataBase64)
			if err != nil {
				return ingest.DeadLetterEvent{}, errors.New("data_base64 is not base64")
			}
			inner = b
		}
	case len(e.Value) > 0:
		inner = e.Value
	case e.Payload != nil:
		inner = []byte(*e.Payload)
	default:
		return checkDeadLetter(e.DeadLetterEvent)
	}
	// data may itself be a JSON string holding the event (structured mode with a string).
	var s string
	if json.Unmarshal(inner, &s) == nil {
		inner = []byte(s)
	}
	var ev ingest.DeadLetterEvent
	if err := json.Unmarshal(inner, &ev); err != nil {
		return ingest.DeadLetterEvent{}, errNotDeadLetter
	}
	return checkDeadLetter(ev)
}

func checkDeadLetter(ev ingest.DeadLetterEvent) (ingest.DeadLetterEvent, error) {
	if ev.Source == "" || ev.Ref == "" {
		return ingest.DeadLetterEvent{}, errNotDeadLetter
	}
	return ev, nil
}
