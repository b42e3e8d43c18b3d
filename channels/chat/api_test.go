package chat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

const (
	tokenChat      = "voorbeeld-token-chatleverancier" // §11: its SHA-256 is fae361f5…
	tokenSigned    = "voorbeeld-token-ondertekend-0123456789abcdef"
	tokenOther     = "voorbeeld-token-andere-chat-0123456789abcdef"
	tokenBrief     = "voorbeeld-token-scanstraat"
	testSecret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // §3's test vector
	vectorID       = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTime     = 1614265330
	vectorBody     = `{"test": 2432232314}`
	vectorSig      = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	pushPath       = "/v1/gesprekken"
	exampleC1242ID = "gsp-2024-03-12-8f3a1c"
)

// exampleUUIDs are §10's klantcontact uuids of the contract's examples from vendor
// chatleverancier.
var exampleUUIDs = map[string]string{
	"gesprek-c1242-beantwoord.json":   "65c7a3ea-3568-5a6e-8685-859af17d5b67",
	"gesprek-c9309-overgedragen.json": "9bc3fe00-082d-5c9b-a8d8-d9fb5c860358",
	"gesprek-c9476-terugbellen.json":  "6d42354d-1dc4-5c82-b4c8-193d875d5c9e",
	"gesprek-c5479-formulier.json":    "e79e835b-7740-5e69-84fb-959be8777e25",
	"gesprek-c9853-whatsapp.json":     "d0759935-34ef-5c7b-a36b-8094056429fb",
}

func pushHash(tok string) string { s := sha256.Sum256([]byte(tok)); return hex.EncodeToString(s[:]) }

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushFixture is the transcript routes behind the intake front door on a real HTTP
// server, with in-memory zones for chatleverancier (unsigned), ondertekend (signed with
// §3's secret) and andere (unsigned); scanstraat may only deliver letters.
type pushFixture struct {
	srv   *httptest.Server
	rt    *chatRuntime
	zones map[string]*pushZone
	now   time.Time
	mu    sync.Mutex
}

func newPushFixture(t *testing.T, maxBytes int64) *pushFixture {
	t.Helper()
	vendors := []ingest.Vendor{
		{Key: "chatleverancier", Channels: []string{"chat"}, TokenSHA256: []string{pushHash(tokenChat)}, Rate: 1000, Burst: 1000},
		{Key: "ondertekend", Channels: []string{"chat"}, TokenSHA256: []string{pushHash(tokenSigned)}, Rate: 1000, Burst: 1000, WebhookSecrets: []string{"whsec_" + strings.Repeat("QUJD", 8), testSecret}},
		{Key: "andere", Channels: []string{"chat"}, TokenSHA256: []string{pushHash(tokenOther)}, Rate: 1000, Burst: 1000},
		{Key: "scanstraat", Channels: []string{"brief"}, TokenSHA256: []string{pushHash(tokenBrief)}, Rate: 1000, Burst: 1000},
	}
	env := ingest.Env{Logger: slog.New(slog.DiscardHandler), DataDir: t.TempDir(), Vendors: vendors}
	rt, err := setup(env, func(any) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	f := &pushFixture{zones: map[string]*pushZone{"chatleverancier": newPushZone(), "ondertekend": newPushZone(), "andere": newPushZone()}, now: time.Unix(vectorTime, 0)}
	cr := rt.(*chatRuntime)
	f.rt = cr
	for k, z := range f.zones {
		cr.zones[k] = z
	}
	front, err := intakeapi.New(intakeapi.Options{Vendors: vendors, SpoolDir: t.TempDir(), Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rt.Routes() {
		if err := front.Handle(Channel, r, maxBytes); err != nil {
			t.Fatal(err)
		}
	}
	f.srv = httptest.NewServer(front)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *pushFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *pushFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

type pushAnswer struct {
	status  int
	header  http.Header
	body    map[string]any
	problem intakeapi.Problem
}

// do sends one request; hdr are extra headers (Content-Type among them).
func (f *pushFixture) do(t *testing.T, method, path, token string, hdr map[string]string, body io.Reader) pushAnswer {
	t.Helper()
	r, _ := http.NewRequest(method, f.srv.URL+path, body)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := pushAnswer{status: resp.StatusCode, header: resp.Header}
	json.Unmarshal(b, &a.body)
	json.Unmarshal(b, &a.problem)
	if resp.Header.Get("API-Version") != "1.0.0" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s %s: headers %v, want API-Version and Cache-Control", method, path, resp.Header)
	}
	return a
}

// push posts body as application/json, unsigned.
func (f *pushFixture) push(t *testing.T, token string, body []byte) pushAnswer {
	t.Helper()
	return f.do(t, "POST", pushPath, token, map[string]string{"Content-Type": "application/json"}, bytes.NewReader(body))
}

// signed posts body as vendor ondertekend, signed with secret at the fixture's clock
// plus skew.
func (f *pushFixture) signed(t *testing.T, id, secret string, skew time.Duration, body []byte) pushAnswer {
	t.Helper()
	ts := f.clock().Add(skew).Unix()
	sig, err := intakeapi.Sign(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return f.do(t, "POST", pushPath, tokenSigned, map[string]string{
		"Content-Type": "application/json", "webhook-id": id, "webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": "v1a,bm9wZQ== " + sig,
	}, bytes.NewReader(body))
}

func (f *pushFixture) status(t *testing.T, token, id string) pushAnswer {
	t.Helper()
	return f.do(t, "GET", pushPath+"/"+id, token, nil, nil)
}

// TestPushExamples: every example of the contract is accepted with its §10 uuid, stored
// unchanged as <gesprekId>.json, and its status is aanvaard.
func TestPushExamples(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	z := f.zones["chatleverancier"]
	for name, want := range exampleUUIDs {
		body := readExample(t, name)
		var doc struct{ GesprekID string }
		json.Unmarshal(body, &doc)
		a := f.push(t, tokenChat, body)
		if a.status != 202 || a.body["klantcontact"] != want || a.body["status"] != "aanvaard" || len(a.body) != 2 ||
			a.header.Get("Location") != "/v1/gesprekken/"+doc.GesprekID || a.header.Get("Content-Type") != "application/json" {
			t.Errorf("POST %s = %d %v %v, want 202 with klantcontact %s", name, a.status, a.header, a.body, want)
			continue
		}
		if got := z.get(ingest.PlaceTop, doc.GesprekID+".json"); !bytes.Equal(got, body) {
			t.Errorf("%s: stored %d bytes, want the body unchanged (%d bytes)", name, len(got), len(body))
		}
		if s := f.status(t, tokenChat, doc.GesprekID); s.status != 200 || s.body["status"] != "aanvaard" || s.body["klantcontact"] != want || s.body["gesprekId"] != doc.GesprekID {
			t.Errorf("GET %s = %d %v, want aanvaard with %s", doc.GesprekID, s.status, s.body, want)
		}
	}
	if len(z.puts) != len(exampleUUIDs) {
		t.Errorf("%d writes, want %d", len(z.puts), len(exampleUUIDs))
	}
	// The document's own example is accepted too, with its uuid.
	if a := f.push(t, tokenChat, []byte(exampleGesprek)); a.status != 409 || a.problem.Type != "urn:instroom:probleem:conflict" {
		t.Errorf("the OpenAPI example (shortened c1242, same gesprekId) = %d, want 409 after the full example", a.status)
	}
	g := newPushFixture(t, 5<<20)
	if a := g.push(t, tokenChat, []byte(exampleGesprek)); a.status != 202 || a.body["klantcontact"] != exampleGesprekKlantcontact {
		t.Errorf("the OpenAPI example = %d %v, want 202 with %s", a.status, a.body, exampleGesprekKlantcontact)
	}
}

// TestPushRepeats: a repeat is the same answer with nothing written (at the top level
// and in processed/), other content is 409, and only in failed/ it is a new attempt.
func TestPushRepeats(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	z := f.zones["chatleverancier"]
	body := readExample(t, "gesprek-c1242-beantwoord.json")
	other := bytes.Replace(body, []byte("Wat kost dat?"), []byte("Wat kost het?"), 1)
	first := f.push(t, tokenChat, body)
	for _, stage := range []string{"top", "processed"} {
		if stage == "processed" {
			z.Done(context.Background(), exampleC1242ID+".json")
			if s := f.status(t, tokenChat, exampleC1242ID); s.body["status"] != "verwerkt" {
				t.Errorf("GET after processing = %v, want verwerkt", s.body)
			}
		}
		a := f.push(t, tokenChat, body)
		if a.status != 202 || a.body["klantcontact"] != first.body["klantcontact"] || a.header.Get("Location") != first.header.Get("Location") || len(z.puts) != 1 {
			t.Errorf("repeat (%s) = %d %v, %d writes; want the same 202 and one write", stage, a.status, a.body, len(z.puts))
		}
		if c := f.push(t, tokenChat, other); c.status != 409 || c.problem.Type != "urn:instroom:probleem:conflict" || len(z.puts) != 1 {
			t.Errorf("other content (%s) = %d %+v, want 409 and nothing written", stage, c.status, c.problem)
		}
	}
	// A failed transcript: its status says why; a new push is a new attempt.
	g := newPushFixture(t, 5<<20)
	y := g.zones["chatleverancier"]
	g.push(t, tokenChat, body)
	y.Fail(context.Background(), exampleC1242ID+".json", "invalid", "")
	if s := g.status(t, tokenChat, exampleC1242ID); s.status != 200 || s.body["status"] != "mislukt" || s.body["reden"] != "invalid" {
		t.Errorf("GET after failure = %d %v, want mislukt with reden invalid", s.status, s.body)
	}
	if a := g.push(t, tokenChat, other); a.status != 202 || a.body["klantcontact"] != first.body["klantcontact"] || len(y.puts) != 2 {
		t.Errorf("new attempt after failed/ = %d %v, %d writes; want 202 with the same klantcontact, written again", a.status, a.body, len(y.puts))
	}
	if s := g.status(t, tokenChat, exampleC1242ID); s.body["status"] != "aanvaard" || s.body["reden"] != nil {
		t.Errorf("GET after a new attempt = %v, want aanvaard", s.body)
	}
	if y.get(ingest.PlaceFailed, exampleC1242ID+".json") == nil {
		t.Errorf("the failed copy was removed")
	}
	// The same gesprekId from another vendor is another conversation.
	if a := f.push(t, tokenOther, body); a.status != 202 || a.body["klantcontact"] == first.body["klantcontact"] || len(f.zones["andere"].puts) != 1 {
		t.Errorf("same gesprekId from another vendor = %d %v, want 202 with another klantcontact", a.status, a.body)
	}
}

func TestPushConcurrentRepeats(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	body := readExample(t, "gesprek-c9476-terugbellen.json")
	var wg sync.WaitGroup
	answers := make([]pushAnswer, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = f.push(t, tokenChat, body) })
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != 202 || a.body["klantcontact"] != exampleUUIDs["gesprek-c9476-terugbellen.json"] {
			t.Errorf("concurrent push %d = %d %v, want 202 with the example's klantcontact", i, a.status, a.body)
		}
	}
	if n := len(f.zones["chatleverancier"].puts); n != 1 {
		t.Errorf("8 concurrent identical pushes wrote %d files, want 1 (one klantcontact)", n)
	}
}

// TestPushInvalid: 400 lists every problem, echoes no submitted value, writes nothing.
func TestPushInvalid(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	valid := readExample(t, "gesprek-c1242-beantwoord.json")
	edit := func(fn func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(valid, &m)
		fn(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		body []byte
		want []string // name/code of invalid params that must be listed
	}{
		{"not JSON", []byte(`{"gesprekId":`), []string{"/json"}},
		{"not UTF-8", []byte("{\"gesprekId\":\"a\xff\"}"), []string{"/json"}},
		{"empty body", nil, []string{"/json"}},
		{"an array", []byte(`[]`), []string{"/type"}},
		{"missing gesprekId", edit(func(m map[string]any) { delete(m, "gesprekId") }), []string{"/gesprekId/required"}},
		{"zero messages", edit(func(m map[string]any) { m["berichten"] = []any{} }), []string{"/berichten/minItems"}},
		{"several problems", edit(func(m map[string]any) {
			m["gesprekId"] = ".verborgen"
			m["kleur"] = "blauw-BSN123456782"
			delete(m, "uitkomst")
		}), []string{"/gesprekId/pattern", "/kleur/additionalProperties", "/uitkomst/required"}},
		{"missing members", []byte(`{}`), []string{"/gesprekId/required", "/kanaal/required", "/berichten/required", "/uitkomst/required"}},
	}
	for _, tc := range cases {
		a := f.push(t, tokenChat, tc.body)
		got := map[string]bool{}
		for _, p := range a.problem.InvalidParams {
			got[p.Name+"/"+p.Code] = true
			if strings.Contains(p.Reason, "blauw") || strings.Contains(p.Reason, "verborgen") {
				t.Errorf("%s: reason %q echoes a submitted value", tc.name, p.Reason)
			}
		}
		if a.status != 400 || a.problem.Type != "urn:instroom:probleem:ongeldig" || len(a.problem.InvalidParams) < len(tc.want) {
			t.Errorf("%s = %d %+v, want 400 with %v", tc.name, a.status, a.problem, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !got[w] {
				t.Errorf("%s: invalidParams %v, want %s among them", tc.name, a.problem.InvalidParams, w)
			}
		}
	}
	if n := len(f.zones["chatleverancier"].puts); n != 0 {
		t.Errorf("%d files written for invalid transcripts, want none", n)
	}
}

// TestPushManyMessages: a conversation of 10,000 messages is accepted whole.
func TestPushManyMessages(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	var m map[string]any
	json.Unmarshal(readExample(t, "gesprek-c1242-beantwoord.json"), &m)
	msgs := make([]any, 10000)
	for i := range msgs {
		msgs[i] = map[string]any{"van": []string{"klant", "bot"}[i%2], "tijdstip": "2024-03-12T14:02:05+01:00", "tekst": "Bericht " + strconv.Itoa(i)}
	}
	m["berichten"] = msgs
	body, _ := json.Marshal(m)
	if a := f.push(t, tokenChat, body); a.status != 202 || !bytes.Equal(f.zones["chatleverancier"].get(ingest.PlaceTop, exampleC1242ID+".json"), body) {
		t.Errorf("10,000 messages (%d bytes) = %d %+v, want 202 and stored unchanged", len(body), a.status, a.problem)
	}
}

func TestPushMediaTypes(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	body := readExample(t, "gesprek-c1242-beantwoord.json")
	for _, ct := range []string{"", "text/plain", "application/json; charset=iso-8859-1", "application/problem+json", "multipart/form-data; boundary=x", "application/json;;"} {
		h := map[string]string{}
		if ct != "" {
			h["Content-Type"] = ct
		}
		if a := f.do(t, "POST", pushPath, tokenChat, h, bytes.NewReader(body)); a.status != 415 || a.problem.Type != "urn:instroom:probleem:mediatype-niet-ondersteund" {
			t.Errorf("Content-Type %q = %d %+v, want 415", ct, a.status, a.problem)
		}
	}
	// 415 comes before 400.
	if a := f.do(t, "POST", pushPath, tokenChat, map[string]string{"Content-Type": "text/xml"}, strings.NewReader("<x/>")); a.status != 415 {
		t.Errorf("invalid body with another media type = %d, want 415", a.status)
	}
	if a := f.do(t, "POST", pushPath, tokenChat, map[string]string{"Content-Type": "application/json; charset=UTF-8"}, bytes.NewReader(body)); a.status != 202 {
		t.Errorf("charset UTF-8 = %d %+v, want 202", a.status, a.problem)
	}
}

func TestPushAccessAndLimits(t *testing.T) {
	body := readExample(t, "gesprek-c1242-beantwoord.json")
	f := newPushFixture(t, int64(len(body)-1))
	if a := f.push(t, "", body); a.status != 401 || a.header.Get("WWW-Authenticate") != `Bearer realm="instroom"` || a.problem.Type != "urn:instroom:probleem:niet-geauthenticeerd" {
		t.Errorf("no token = %d %v, want 401 with the challenge", a.status, a.header)
	}
	if a := f.push(t, "onbekend-token-0123456789", body); a.status != 401 || !strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("unknown token = %d %v, want 401 invalid_token", a.status, a.header)
	}
	if a := f.push(t, tokenBrief, body); a.status != 403 || a.problem.Type != "urn:instroom:probleem:niet-toegestaan" {
		t.Errorf("vendor without channel chat = %d, want 403", a.status)
	}
	if a := f.push(t, tokenChat, body); a.status != 413 || a.problem.Type != "urn:instroom:probleem:te-groot" {
		t.Errorf("over the limit by Content-Length = %d %+v, want 413", a.status, a.problem)
	}
	// Without Content-Length (chunked), the limit is found while streaming.
	if a := f.do(t, "POST", pushPath, tokenChat, map[string]string{"Content-Type": "application/json"}, io.MultiReader(bytes.NewReader(body))); a.status != 413 {
		t.Errorf("over the limit while streaming = %d %+v, want 413", a.status, a.problem)
	}
	// Signed: the body is spooled for the signature, the limit holds all the same.
	if a := f.signed(t, "msg_te_groot", testSecret, 0, body); a.status != 413 {
		t.Errorf("signed, over the limit = %d, want 413", a.status)
	}
	for k, z := range f.zones {
		if len(z.puts) != 0 {
			t.Errorf("%d files written for refused transcripts (%s), want none", len(z.puts), k)
		}
	}
	if a := f.do(t, "GET", pushPath+"/", tokenChat, nil, nil); a.status != 404 {
		t.Errorf("trailing slash = %d, want 404", a.status)
	}
	if a := f.do(t, "PUT", pushPath, tokenChat, nil, nil); a.status != 405 || a.header.Get("Allow") == "" {
		t.Errorf("PUT = %d %v, want 405 with Allow", a.status, a.header)
	}
}
