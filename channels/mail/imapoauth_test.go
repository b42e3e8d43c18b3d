package mail_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// tokenServer is an OAuth2 authorization server for the client-credentials flow with
// RFC 7662 token introspection, as Dovecot's oauth2 passdb uses it.
type tokenServer struct {
	mu     sync.Mutex
	tokens map[string]string // token -> user
	issued int
}

func (ts *tokenServer) handler(t *testing.T, user string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/tenant/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
		}
		if r.Form.Get("grant_type") != "client_credentials" || id != "instroom-app" || secret != "app-secret" || r.Form.Get("scope") != "https://outlook.office365.com/.default" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		ts.mu.Lock()
		ts.issued++
		tok := fmt.Sprintf("token-%d", ts.issued)
		ts.tokens[tok] = user
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tok)
	})
	mux.HandleFunc("/introspect", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		ts.mu.Lock()
		u, ok := ts.tokens[r.Form.Get("token")]
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.Write([]byte(`{"active":false}`))
			return
		}
		fmt.Fprintf(w, `{"active":true,"username":%q}`, u)
	})
	return mux
}

func TestXOAUTH2ClientCredentials(t *testing.T) {
	ts := &tokenServer{tokens: map[string]string{}}
	srv := httptest.NewServer(ts.handler(t, "info"))
	defer srv.Close()
	d := ingesttest.StartDovecot(t, ingesttest.DovecotOptions{Users: map[string]string{"info": "niet-gebruikt"}, IntrospectionURL: srv.URL + "/introspect"})
	d.Append(t, "info", "INBOX", testMail(1, ""))
	cc := clientcredentials.Config{ClientID: "instroom-app", ClientSecret: "app-secret", TokenURL: srv.URL + "/tenant/oauth2/v2.0/token",
		Scopes: []string{"https://outlook.office365.com/.default"}}
	tok := oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(context.Background()), 5*time.Minute)
	s := source(d, func(o *mail.IMAPOptions) {
		o.Auth = mail.IMAPAuth{Mechanism: mail.AuthXOAUTH2, Username: "info", TokenSource: tok}
	})
	defer s.Close()
	_, ack, body := read(t, s, 10*time.Second)
	if !strings.Contains(string(body), "Vraag 1") {
		t.Fatalf("XOAUTH2 read %q", body)
	}
	ack(context.Background(), nil)
	if ts.issued != 1 {
		t.Errorf("tokens issued = %d, want 1 (cached)", ts.issued)
	}
	// A token for another mailbox is refused.
	ts.mu.Lock()
	ts.tokens["stolen"] = "belastingen"
	ts.mu.Unlock()
	bad := source(d, func(o *mail.IMAPOptions) {
		o.Auth = mail.IMAPAuth{Mechanism: mail.AuthXOAUTH2, Username: "info", TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "stolen"})}
	})
	defer bad.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := bad.Read(ctx); !errors.Is(err, mail.ErrAuth) {
		t.Errorf("Read with a token for another user = %v, want ErrAuth", err)
	}
}
