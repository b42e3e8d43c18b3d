package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instroom/instroom/config"
)

// TestOAuth2TokensCachedAndRenewedBeforeExpiry checks the XOAUTH2 token source the worker
// builds from its configuration: a token is reused while it is valid, and renewed once it
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
	sc := config.Source{Name: "info", IMAP: &config.IMAP{Address: "127.0.0.1:993", Security: "tls", Auth: "xoauth2", Username: "info@gemeente.example",
		OAuth2: &config.OAuth2{TokenURL: srv.URL, ClientID: "app", ClientSecret: "geheim", Scopes: []string{"https://outlook.office365.com/.default"}, RefreshBefore: 5 * time.Minute}}}
	c := &config.Config{}
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		lifetime   int64
		wantIssued int64
	}{{3600, 1}, {120, 3}} { // 120 s is within the 5-minute renewal margin
		issued.Store(0)
		lifetime.Store(tc.lifetime)
		o, err := imapOptions(context.Background(), sc, c, log)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := o.Auth.TokenSource.Token(); err != nil {
				t.Fatalf("Token = %v", err)
			}
		}
		if got := issued.Load(); got != tc.wantIssued {
			t.Errorf("lifetime %ds: %d tokens issued for 3 logins, want %d", tc.lifetime, got, tc.wantIssued)
		}
	}
}
