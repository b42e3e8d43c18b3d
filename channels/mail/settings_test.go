package mail

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestOAuth2TokensCachedAndRenewedBeforeExpiry checks the XOAUTH2 token source the channel
// builds from its settings: a token is reused while it is valid, and renewed once it
// is within refresh_before of expiring.
func TestOAuth2TokensCachedAndRenewedBeforeExpiry(t *testing.T) {
	var issued atomic.Int64
	var lifetime atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "https://outlook.office365.com/.default" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"t%d","token_type":"Bearer","expires_in":%d}`, n, lifetime.Load())
	}))
	defer srv.Close()
	oc := &OAuth2Settings{TokenURL: srv.URL, ClientID: "app", ClientSecret: "geheim"}
	im := &IMAPSettings{OAuth2: oc}
	im.defaults() // the default scope and refresh_before (5m)
	for _, tc := range []struct {
		lifetime   int64
		wantIssued int64
	}{{3600, 1}, {120, 3}} { // 120 s is within the 5-minute renewal margin
		issued.Store(0)
		lifetime.Store(tc.lifetime)
		ts := oc.tokenSource(context.Background())
		for range 3 {
			if _, err := ts.Token(); err != nil {
				t.Fatalf("Token = %v", err)
			}
		}
		if got := issued.Load(); got != tc.wantIssued {
			t.Errorf("lifetime %ds: %d tokens issued for 3 logins, want %d", tc.lifetime, got, tc.wantIssued)
		}
	}
}
