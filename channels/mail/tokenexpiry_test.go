package mail

import (
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestTokenExpiry(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name   string
		ts     oauth2.TokenSource
		want   time.Time
		called bool
	}{
		{name: "xoauth2", ts: &expiryRecorder{ts: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x", Expiry: exp})}, want: exp, called: true},
		{name: "xoauth2 before login", ts: &expiryRecorder{ts: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x", Expiry: exp})}},
		{name: "never expires", ts: &expiryRecorder{ts: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})}, called: true},
		{name: "password"},
	} {
		s := NewIMAP(IMAPOptions{Auth: IMAPAuth{TokenSource: tc.ts}})
		if tc.called {
			if _, err := tc.ts.Token(); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := s.TokenExpiry()
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("%s: TokenExpiry() = %v, %v, want %v", tc.name, got, ok, tc.want)
		}
	}
}
