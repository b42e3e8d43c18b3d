package intakeapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

const (
	tokenScan = "token-scanstraat-0123456789abcdef0123456789abcdef"
	tokenChat = "token-chatleverancier-0123456789abcdef0123456789ab"
	tokenSign = "token-ondertekenaar-0123456789abcdef0123456789abcd"
	// The test vector of Standard Webhooks, as the contract's §3 gives it.
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func hash(tok string) string { s := sha256.Sum256([]byte(tok)); return hex.EncodeToString(s[:]) }

// fixture is a front door on a real HTTP server with one POST and one GET route of
// channel "proef"; the POST echoes its body after Body.
type fixture struct {
	srv   *httptest.Server
	calls atomic.Int64
	now   atomic.Int64 // Unix seconds of the server clock
}

func newFixture(t *testing.T, rate float64, burst int, maxBytes int64) *fixture {
	t.Helper()
	f := &fixture{}
	f.now.Store(vecTS)
	vendors := []ingest.Vendor{
		{Key: "scanstraat", Channels: []string{"proef"}, TokenSHA256: []string{hash("oud-token"), hash(tokenScan)}, Rate: rate, Burst: burst},
		{Key: "chatleverancier", Channels: []string{"chat"}, TokenSHA256: []string{hash(tokenChat)}, Rate: 10, Burst: 20},
		{Key: "ondertekenaar", Channels: []string{"proef"}, TokenSHA256: []string{hash(tokenSign)}, Rate: 10, Burst: 20, WebhookSecrets: []string{"whsec_" + strings.Repeat("QUFB", 8), vecSecret}},
		{Key: "postkamer", Channels: []string{"proef"}},
	}
	s, err := intakeapi.New(intakeapi.Options{Vendors: vendors, SpoolDir: t.TempDir(), Now: func() time.Time { return time.Unix(f.now.Load(), 0) }})
	if err != nil {
		t.Fatal(err)
	}
	post := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := intakeapi.Body(w, r, "application/json")
		if !ok {
			return
		}
		b, err := io.ReadAll(body)
		if err != nil {
			intakeapi.WriteReadError(w, r, err)
			return
		}
		v, _ := intakeapi.VendorFrom(r.Context())
		n := f.calls.Add(1)
		w.Header().Set("Location", "/v1/proeven/"+strconv.FormatInt(n, 10))
		intakeapi.WriteJSON(w, http.StatusAccepted, map[string]any{"vendor": v.Key, "bytes": len(b), "call": n})
	})
	get := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		intakeapi.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Handle("proef", ingest.Route{Pattern: "POST /v1/proeven", Handler: post}, maxBytes))
	must(s.Handle("proef", ingest.Route{Pattern: "GET /v1/proeven/{id}", Handler: get}, maxBytes))
	doc, err := intakeapi.Document()
	must(err)
	must(s.HandlePublic("GET "+intakeapi.DocumentPath, intakeapi.DocumentHandler(doc)))
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

type req struct {
	method, path, token, contentType, body string
	headers                                map[string]string
	chunked                                bool
}

func (f *fixture) do(t *testing.T, q req) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader = strings.NewReader(q.body)
	if q.chunked {
		body = io.MultiReader(strings.NewReader(q.body)) // unknown length: sent chunked
	}
	r, err := http.NewRequest(q.method, f.srv.URL+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	if q.contentType != "" {
		r.Header.Set("Content-Type", q.contentType)
	}
	for k, v := range q.headers {
		r.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// checkHeaders asserts the headers of §2 that every response has.
func checkHeaders(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"API-Version": "1.0.0", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: header %s = %q, want %q", what, k, got, v)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("%s: HSTS on plain HTTP", what)
	}
}

// checkProblem asserts a problem+json body of code.
func checkProblem(t *testing.T, what string, resp *http.Response, body []byte, code intakeapi.Code) intakeapi.Problem {
	t.Helper()
	var p intakeapi.Problem
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type = %q, want application/problem+json", what, ct)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: body %q: %v", what, body, err)
	}
	if resp.StatusCode != code.Status() || p.Status != code.Status() || p.Type != "urn:instroom:probleem:"+string(code) || p.Title != code.Title() {
		t.Errorf("%s = %d %+v, want %d %s", what, resp.StatusCode, p, code.Status(), code)
	}
	return p
}

func TestRoutingAndHeaders(t *testing.T) {
	f := newFixture(t, 1000, 1000, 1<<20)
	cases := []struct {
		name  string
		q     req
		code  intakeapi.Code
		allow string
	}{
		{"unknown path", req{method: "GET", path: "/v1/onbekend", token: tokenScan}, intakeapi.CodeNotFound, ""},
		{"root", req{method: "GET", path: "/"}, intakeapi.CodeNotFound, ""},
		{"trailing slash", req{method: "POST", path: "/v1/proeven/", token: tokenScan}, intakeapi.CodeNotFound, ""},
		{"double slash", req{method: "POST", path: "/v1//proeven", token: tokenScan}, intakeapi.CodeNotFound, ""},
		{"dot segment", req{method: "POST", path: "/v1/x/../proeven", token: tokenScan}, intakeapi.CodeNotFound, ""},
		{"document trailing slash", req{method: "GET", path: "/v1/openapi.json/"}, intakeapi.CodeNotFound, ""},
		{"other method", req{method: "DELETE", path: "/v1/proeven", token: tokenScan}, intakeapi.CodeMethodNotAllowed, "POST"},
		{"other method on id", req{method: "PUT", path: "/v1/proeven/7", token: tokenScan}, intakeapi.CodeMethodNotAllowed, "GET"},
		{"document post", req{method: "POST", path: "/v1/openapi.json"}, intakeapi.CodeMethodNotAllowed, "GET"},
		{"no token", req{method: "GET", path: "/v1/proeven/7"}, intakeapi.CodeUnauthenticated, ""},
		{"other channel", req{method: "GET", path: "/v1/proeven/7", token: tokenChat}, intakeapi.CodeForbidden, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.do(t, tc.q)
			checkHeaders(t, tc.name, resp)
			checkProblem(t, tc.name, resp, body, tc.code)
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("%s: Allow = %q, want %q", tc.name, got, tc.allow)
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("%s: redirected to %s", tc.name, resp.Header.Get("Location"))
			}
		})
	}
	resp, body := f.do(t, req{method: "GET", path: "/v1/proeven/a%2Fb", token: tokenScan})
	checkHeaders(t, "GET escaped id", resp)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"a/b"`) {
		t.Errorf("GET /v1/proeven/a%%2Fb = %d %s, want 200 with id a/b", resp.StatusCode, body)
	}
	resp, _ = f.do(t, req{method: "GET", path: intakeapi.DocumentPath})
	checkHeaders(t, "GET document", resp)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET %s = %d %v, want 200 JSON for every origin", intakeapi.DocumentPath, resp.StatusCode, resp.Header)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, 1000, 1000, 1<<20)
	cases := []struct {
		name, auth, challenge string
	}{
		{"missing", "", `Bearer realm="instroom"`},
		{"other scheme", "Basic c2Nhbjp4", `Bearer realm="instroom"`},
		{"empty bearer", "Bearer ", `Bearer realm="instroom"`},
		{"unknown token", "Bearer geen-geldig-token", `Bearer realm="instroom", error="invalid_token"`},
		{"hash as token", "Bearer " + hash(tokenScan), `Bearer realm="instroom", error="invalid_token"`},
	}
	for _, tc := range cases {
		resp, body := f.do(t, req{method: "POST", path: "/v1/proeven", contentType: "application/json", body: "{}", headers: map[string]string{"Authorization": tc.auth}})
		checkHeaders(t, tc.name, resp)
		checkProblem(t, tc.name, resp, body, intakeapi.CodeUnauthenticated)
		if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", tc.name, got, tc.challenge)
		}
	}
	for _, tok := range []string{tokenScan, "oud-token"} { // rotation: either hash admits
		resp, body := f.do(t, req{method: "POST", path: "/v1/proeven", token: tok, contentType: "application/json", body: "{}"})
		if resp.StatusCode != 202 || !strings.Contains(string(body), `"vendor":"scanstraat"`) {
			t.Errorf("POST with a token of scanstraat = %d %s, want 202 as scanstraat", resp.StatusCode, body)
		}
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, 0.01, 2, 1<<20)
	var codes []int
	for range 3 {
		resp, body := f.do(t, req{method: "GET", path: "/v1/proeven/1", token: tokenScan})
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 {
			checkHeaders(t, "429", resp)
			checkProblem(t, "429", resp, body, intakeapi.CodeTooManyRequests)
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Errorf("429 Retry-After = %q, want whole seconds ≥ 1", resp.Header.Get("Retry-After"))
			}
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("three requests with burst 2 = %v, want [200 200 429]", codes)
	}
	// Another vendor has its own bucket; the rate limit comes after authentication.
	if resp, _ := f.do(t, req{method: "GET", path: "/v1/proeven/1", token: tokenSign}); resp.StatusCode != 200 {
		t.Errorf("other vendor after scanstraat's limit = %d, want 200", resp.StatusCode)
	}
	if resp, _ := f.do(t, req{method: "GET", path: "/v1/proeven/1"}); resp.StatusCode != 401 {
		t.Errorf("no token = %d, want 401 before 429", resp.StatusCode)
	}
	f.now.Add(200) // two tokens later
	if resp, _ := f.do(t, req{method: "GET", path: "/v1/proeven/1", token: tokenScan}); resp.StatusCode != 200 {
		t.Errorf("after the bucket refilled = %d, want 200", resp.StatusCode)
	}
}

func TestBodyChecks(t *testing.T) {
	f := newFixture(t, 1000, 1000, 64)
	big := strings.Repeat("x", 65)
	cases := []struct {
		name string
		q    req
		code intakeapi.Code
	}{
		{"no content type", req{body: "{}"}, intakeapi.CodeUnsupported},
		{"text/plain", req{contentType: "text/plain", body: "{}"}, intakeapi.CodeUnsupported},
		{"latin-1", req{contentType: "application/json; charset=iso-8859-1", body: "{}"}, intakeapi.CodeUnsupported},
		{"over the limit by Content-Length", req{contentType: "application/json", body: big}, intakeapi.CodeTooLarge},
		{"over the limit while streaming", req{contentType: "application/json", body: big, chunked: true}, intakeapi.CodeTooLarge},
		{"media type before size", req{contentType: "text/plain", body: big}, intakeapi.CodeUnsupported},
	}
	for _, tc := range cases {
		tc.q.method, tc.q.path, tc.q.token = "POST", "/v1/proeven", tokenScan
		resp, body := f.do(t, tc.q)
		checkHeaders(t, tc.name, resp)
		checkProblem(t, tc.name, resp, body, tc.code)
	}
	for _, ct := range []string{"application/json", "application/json; charset=UTF-8"} {
		resp, _ := f.do(t, req{method: "POST", path: "/v1/proeven", token: tokenScan, contentType: ct, body: strings.Repeat("x", 64), chunked: true})
		if resp.StatusCode != 202 {
			t.Errorf("POST of exactly the limit as %s = %d, want 202", ct, resp.StatusCode)
		}
	}
	if f.calls.Load() != 2 {
		t.Errorf("handler ran %d times, want 2 (only for the accepted requests)", f.calls.Load())
	}
}

func TestProblemTable(t *testing.T) {
	want := map[intakeapi.Code]int{
		"ongeldig": 400, "niet-geauthenticeerd": 401, "handtekening-ongeldig": 401, "niet-toegestaan": 403,
		"niet-gevonden": 404, "methode-niet-toegestaan": 405, "conflict": 409, "te-groot": 413,
		"mediatype-niet-ondersteund": 415, "te-veel-verzoeken": 429, "interne-fout": 500, "niet-beschikbaar": 503,
	}
	titles := map[string]bool{}
	for _, c := range intakeapi.Codes() {
		if c.Status() != want[c] {
			t.Errorf("%s.Status() = %d, want %d", c, c.Status(), want[c])
		}
		if c.Title() == "" || titles[c.Title()] {
			t.Errorf("%s.Title() = %q, want a title of its own", c, c.Title())
		}
		titles[c.Title()] = true
		delete(want, c)
	}
	if len(want) > 0 {
		t.Errorf("Codes() misses %v", want)
	}
	if got := intakeapi.CodeInvalid.Title(); got != "De aanlevering is ongeldig." {
		t.Errorf("CodeInvalid.Title() = %q, want the contract's title", got)
	}
	rec := httptest.NewRecorder()
	intakeapi.WriteProblem(rec, intakeapi.CodeUnavailable, "", nil)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "30" {
		t.Errorf("WriteProblem(niet-beschikbaar) = %d Retry-After %q, want 503 and 30", rec.Code, rec.Header().Get("Retry-After"))
	}
	rec = httptest.NewRecorder()
	intakeapi.WriteInvalid(rec, []intakeapi.InvalidParam{{Name: "/a", Code: "type", Reason: "r"}, {Name: "scan", Code: "required", Reason: "r"}, {Name: "", Code: "json", Reason: "r"}})
	var p map[string]any
	json.Unmarshal(rec.Body.Bytes(), &p)
	if p["detail"] != "3 problemen; zie invalidParams." || len(p["invalidParams"].([]any)) != 3 {
		t.Errorf("WriteInvalid(3 params) = %s, want all three with the contract's detail", rec.Body)
	}
}

// TestTLSAndPanics: with TLS, responses carry HSTS; a handler that panics or writes
// nothing is answered 500 interne-fout with the headers of every response.
func TestTLSAndPanics(t *testing.T) {
	s, err := intakeapi.New(intakeapi.Options{TLS: true, Vendors: []ingest.Vendor{{Key: "v", Channels: []string{"c"}, TokenSHA256: []string{hash(tokenScan)}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("c", ingest.Route{Pattern: "GET /v1/paniek", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("fout") })}, 1)
	s.Handle("c", ingest.Route{Pattern: "GET /v1/stil", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}, 1)
	srv := httptest.NewTLSServer(s)
	defer srv.Close()
	for _, path := range []string{"/v1/paniek", "/v1/stil", "/v1/onbekend"} {
		r, _ := http.NewRequest("GET", srv.URL+path, nil)
		r.Header.Set("Authorization", "Bearer "+tokenScan)
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("API-Version") != "1.0.0" {
			t.Errorf("GET %s over TLS: headers %v, want HSTS and API-Version", path, resp.Header)
		}
		want := intakeapi.CodeInternal
		if path == "/v1/onbekend" {
			want = intakeapi.CodeNotFound
		}
		checkProblem(t, "GET "+path, resp, body, want)
	}
}
