package chat

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestFetch downloads attachments from an httptest TLS server on 127.0.0.1; "localhost"
// names the same server but is not on the vendor's list.
func TestFetch(t *testing.T) {
	var srvURL *url.URL
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			http.Error(w, "credentials sent", http.StatusTeapot)
			return
		}
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("inhoud"))
		case "/groot":
			w.Write([]byte(strings.Repeat("x", 200)))
		case "/groot-zonder-lengte":
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("x", 200)))
		case "/gone":
			http.Error(w, "weg", http.StatusGone)
		case "/fout":
			http.Error(w, "fout", http.StatusServiceUnavailable)
		case "/naar-ok":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/naar-elders":
			http.Redirect(w, r, "https://localhost:"+srvURL.Port()+"/ok", http.StatusFound)
		case "/naar-http":
			http.Redirect(w, r, "http://127.0.0.1:"+srvURL.Port()+"/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	srvURL, _ = url.Parse(srv.URL)
	base := "https://127.0.0.1:" + srvURL.Port()
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tlsConf.ServerName = "127.0.0.1"
	hosts := map[string][]string{"lev": {"127.0.0.1"}}
	f := newFetcher(hosts, 100, 5*time.Second, true, tlsConf)
	cases := []struct {
		name, vendor, url string
		body, skip        string
		temporary         bool
	}{
		{"allowed host", "lev", base + "/ok", "inhoud", "", false},
		{"redirect to a listed host", "lev", base + "/naar-ok", "inhoud", "", false},
		{"other vendor", "ander", base + "/ok", "", skipNotAllowed, false},
		{"host not listed", "lev", "https://localhost:" + srvURL.Port() + "/ok", "", skipNotAllowed, false},
		{"plain http", "lev", "http://127.0.0.1:" + srvURL.Port() + "/ok", "", skipNotAllowed, false},
		{"credentials in url", "lev", "https://u:p@127.0.0.1:" + srvURL.Port() + "/ok", "", skipNotAllowed, false},
		{"redirect to a host not listed", "lev", base + "/naar-elders", "", skipNotAllowed, false},
		{"redirect to http", "lev", base + "/naar-http", "", skipNotAllowed, false},
		{"404", "lev", base + "/nergens", "", skipGone, false},
		{"410", "lev", base + "/gone", "", skipGone, false},
		{"too large", "lev", base + "/groot", "", skipTooLarge, false},
		{"too large, no length", "lev", base + "/groot-zonder-lengte", "", skipTooLarge, false},
		{"server error", "lev", base + "/fout", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, skip, err := f.fetch(context.Background(), tc.vendor, tc.url)
			if (err != nil) != tc.temporary || skip != tc.skip || string(b) != tc.body {
				t.Errorf("fetch(%s) = %q, skip %q, err %v; want %q, skip %q, temporary %v", tc.url, b, skip, err, tc.body, tc.skip, tc.temporary)
			}
			if err != nil && strings.Contains(err.Error(), srvURL.Port()) {
				t.Errorf("fetch(%s) error %q names the URL", tc.url, err)
			}
		})
	}
}

// TestFetchRefusesInternal: without AllowPrivate a listed host that resolves to a
// loopback address is never connected to.
func TestFetchRefusesInternal(t *testing.T) {
	hit := false
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	f := newFetcher(map[string][]string{"lev": {"127.0.0.1", "localhost"}}, 100, 5*time.Second, false, &tls.Config{InsecureSkipVerify: true})
	for _, h := range []string{"127.0.0.1", "localhost"} {
		b, skip, err := f.fetch(context.Background(), "lev", "https://"+h+":"+u.Port()+"/")
		if b != nil || skip != skipNotAllowed || err != nil {
			t.Errorf("fetch(https://%s) = %q, %q, %v; want not allowed", h, b, skip, err)
		}
	}
	if hit {
		t.Error("the fetcher connected to a loopback address")
	}
	for _, a := range []string{"10.1.2.3:443", "192.168.1.1:443", "169.254.169.254:80", "[::1]:443", "[fe80::1]:443", "100.64.0.1:443", "0.0.0.0:443", "[::ffff:127.0.0.1]:443"} {
		if refuseInternal("tcp", a, nil) == nil {
			t.Errorf("refuseInternal(%s) = nil, want refused", a)
		}
	}
	if err := refuseInternal("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("refuseInternal(public) = %v, want nil", err)
	}
}
