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
	ReasonPoison      = "poison"      // attempts kept ending without an outcome (worker died or timed out)
)

// Permanenter is implemented by errors that retrying cannot fix. Any package can mark an
// error permanent by implementing it, without importing this package's concrete types;
// IsPermanent and ReasonOf find it anywhere in an error chain with errors.As.
type Permanenter interface {
	error
	// PermanentReason returns the machine-readable reason (see the Reason constants, or
	// a channel's own bounded set of codes).
	PermanentReason() string
}

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

// PermanentReason implements Permanenter.
func (e *PermanentError) PermanentReason() string { return e.Reason }

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
	var p Permanenter
	return errors.As(err, &p)
}

// ReasonOf returns the reason of a permanent error, or "" for a temporary one.
func ReasonOf(err error) string {
	var p Permanenter
	if errors.As(err, &p) {
		if r := p.PermanentReason(); r != "" {
			return r
		}
		return ReasonRejected
	}
	return ""
}
