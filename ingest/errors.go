package ingest

import (
	"errors"
	"fmt"
)

// Reasons for permanent failures. They are machine-readable and bounded, so they can be
// used as metric labels and in failed-item records.
const (
	ReasonUnparseable = "unparseable" // the item is not a message of its channel
	ReasonTooLarge    = "too_large"   // over the configured size limit
	ReasonInvalid     = "invalid"     // parsed, but cannot become a valid registration
	ReasonPanic       = "panic"       // handling the item panicked
	ReasonUnreadable  = "unreadable"  // the source could not read the item
	ReasonRejected    = "rejected"    // a downstream refused the item for good
)

// PermanentError marks an error that retrying cannot fix.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Err.Error()
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent with a machine-readable reason.
func Permanent(reason string, err error) error {
	return &PermanentError{Reason: reason, Err: err}
}

// Permanentf is Permanent with a formatted error.
func Permanentf(reason, format string, args ...any) error {
	return &PermanentError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err is marked permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// ReasonOf returns the reason of a permanent error, or "" for a temporary one.
func ReasonOf(err error) string {
	var p *PermanentError
	if errors.As(err, &p) {
		return p.Reason
	}
	return ""
}
