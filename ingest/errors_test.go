package ingest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/instroom/instroom/ingest"
)

// scanError is a channel's own error type: it marks itself permanent without any
// ingest type.
type scanError struct{ code string }

func (e scanError) Error() string           { return "scan: " + e.code }
func (e scanError) PermanentReason() string { return e.code }

func TestPermanentIsAnInterface(t *testing.T) {
	for _, tc := range []struct {
		err    error
		perm   bool
		reason string
	}{
		{fmt.Errorf("parsing item: %w", scanError{"unsupported_format"}), true, "unsupported_format"},
		{ingest.Permanentf(ingest.ReasonTooLarge, "too big"), true, "too_large"},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", ingest.Permanent(ingest.ReasonInvalid, errors.New("x")))), true, "invalid"},
		{scanError{""}, true, ingest.ReasonRejected}, // permanent without a code
		{errors.New("connection refused"), false, ""},
	} {
		if got := ingest.IsPermanent(tc.err); got != tc.perm {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.perm)
		}
		if got := ingest.ReasonOf(tc.err); got != tc.reason {
			t.Errorf("ReasonOf(%v) = %q, want %q", tc.err, got, tc.reason)
		}
	}
}
