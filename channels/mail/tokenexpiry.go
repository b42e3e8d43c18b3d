package mail

import (
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// expiryRecorder is a token source that remembers the expiry of the last token it gave,
// for the token-expiry metric. It is safe for concurrent use.
type expiryRecorder struct {
	ts oauth2.TokenSource

	mu     sync.Mutex
	expiry time.Time
}

func (r *expiryRecorder) Token() (*oauth2.Token, error) {
	tok, err := r.ts.Token()
	if err == nil && !tok.Expiry.IsZero() {
		r.mu.Lock()
		r.expiry = tok.Expiry
		r.mu.Unlock()
	}
	return tok, err
}

// Expiry returns the expiry of the last token given; false before the first or when the
// tokens do not expire.
func (r *expiryRecorder) Expiry() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.expiry, !r.expiry.IsZero()
}

// TokenExpiry returns when the XOAUTH2 access token last obtained for this folder's
// account expires; false for other mechanisms and before the first login.
func (s *IMAPSource) TokenExpiry() (time.Time, bool) {
	if r, ok := s.opts.Auth.TokenSource.(interface{ Expiry() (time.Time, bool) }); ok {
		return r.Expiry()
	}
	return time.Time{}, false
}
