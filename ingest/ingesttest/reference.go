package ingesttest

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/emersion/go-message"
)

// GoMessageRead reads raw with go-message and every part's body with its transfer
// encoding decoded, and drops it: the least a MIME reader has to do with the mail.
func GoMessageRead(raw []byte) error {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return err
	}
	return readParts(e)
}

func readParts(e *message.Entity) error {
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if p == nil {
					return err
				}
			}
			if err := readParts(p); err != nil {
				return err
			}
		}
	}
	_, err := io.Copy(io.Discard, e.Body)
	return err
}

// ReferenceRead is a yardstick of the machine's speed at the moment: the wall time per
// mail of GoMessageRead on raw, n times in a row on one goroutine (the fastest of three
// rounds, so a moment of other work does not count). Printed beside CPU per mail, it lets
// runs at different moments, or on different machines, be compared.
func ReferenceRead(raw []byte, n int) (time.Duration, error) {
	best := time.Duration(0)
	for range 3 {
		start := time.Now()
		for range n {
			if err := GoMessageRead(raw); err != nil {
				return 0, err
			}
		}
		if d := time.Since(start) / time.Duration(n); best == 0 || d < best {
			best = d
		}
	}
	return best, nil
}
