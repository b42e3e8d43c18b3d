package intakeapi

import (
	"context"
	"os"

	"github.com/instroom/instroom/ingest"
)

// stateKey is the context key of a request's state.
type stateKey struct{}

// state is what the Server knows of one request, in its context for Body and VendorFrom.
type state struct {
	server   *Server
	resource string
	maxBytes int64
	vendor   *vendorState
	signed   *signedRequest // set by Body once a signature was verified
	replayed bool
	tooLarge bool // the body passed maxBytes while streaming
	spool    []*os.File
}

func (st *state) vendorKey() string {
	if st.vendor == nil {
		return ""
	}
	return st.vendor.v.Key
}

// cleanup removes the request's spool files.
func (st *state) cleanup() {
	for _, f := range st.spool {
		f.Close()
		os.Remove(f.Name())
	}
	st.spool = nil
}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// VendorFrom returns the authenticated vendor of a request the Server admitted.
func VendorFrom(ctx context.Context) (ingest.Vendor, bool) {
	st := stateFrom(ctx)
	if st == nil || st.vendor == nil {
		return ingest.Vendor{}, false
	}
	return st.vendor.v, true
}
