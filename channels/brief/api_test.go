package brief

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// exampleSidecar is contracts/examples/brief-c2138.json (vendor scanstraat).
const exampleSidecar = `{"scanId":"SCAN-20240312-000123","gescandOp":"2024-03-12T09:41:17+01:00","bestand":"SCAN-20240312-000123.pdf","onderwerp":"Deksel groene container afgebroken","documenttype":"brief","paginas":1,"taal":"nld"}`

const (
	exampleKlantcontact = "7d4a06c7-6e65-5171-8f09-f8ef160ad9db" // §10 for brief-c2138.json
	tokenScanstraat     = "voorbeeld-token-scanstraat"
	tokenPostkamer      = "voorbeeld-token-postkamer-0123456789"
	tokenChat           = "voorbeeld-token-chatleverancier"
)

var apiPDF = []byte("%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")

func apiHash(tok string) string { s := sha256.Sum256([]byte(tok)); return hex.EncodeToString(s[:]) }

// apiFixture is the letter routes behind the intake front door on a real HTTP server,
// with in-memory zones for vendors scanstraat and postkamer.
type apiFixture struct {
	srv   *httptest.Server
	zones map[string]*apiZone
}

func newAPIFixture(t *testing.T, maxBytes int64) *apiFixture {
	t.Helper()
	vendors := []ingest.Vendor{
		{Key: "scanstraat", Channels: []string{"brief"}, TokenSHA256: []string{apiHash(tokenScanstraat)}, Rate: 1000, Burst: 1000},
		{Key: "postkamer", Channels: []string{"brief"}, TokenSHA256: []string{apiHash(tokenPostkamer)}, Rate: 1000, Burst: 1000},
		{Key: "chatleverancier", Channels: []string{"chat"}, TokenSHA256: []string{apiHash(tokenChat)}, Rate: 1000, Burst: 1000},
	}
	env := ingest.Env{Logger: slog.New(slog.DiscardHandler), DataDir: t.TempDir(), Vendors: vendors}
	rt, err := setup(env, func(any) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	f := &apiFixture{zones: map[string]*apiZone{"scanstraat": newAPIZone(), "postkamer": newAPIZone()}}
	br := rt.(*briefRuntime)
	for k, z := range f.zones {
		br.zones[k] = z
	}
	front, err := intakeapi.New(intakeapi.Options{Vendors: vendors, SpoolDir: t.TempDir()})
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

// part is one multipart part: name, Content-Type ("" for none) and content.
type apiPart struct {
	name, contentType string
	body              []byte
}

func pushParts(meta string, scan []byte) []apiPart {
	return []apiPart{{"metadata", "application/json", []byte(meta)}, {"scan", "application/octet-stream", scan}}
}

func apiMultipart(parts []apiPart) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename="x"`, p.name))
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, _ := mw.CreatePart(h)
		w.Write(p.body)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

type apiAnswer struct {
	status  int
	header  http.Header
	body    map[string]any
	problem intakeapi.Problem
}

func (f *apiFixture) post(t *testing.T, token string, parts []apiPart) apiAnswer {
	t.Helper()
	ct, body := apiMultipart(parts)
	return f.do(t, "POST", "/v1/brieven", token, ct, body)
}

func (f *apiFixture) do(t *testing.T, method, path, token, ct string, body []byte) apiAnswer {
	t.Helper()
	r, _ := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
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
	a := apiAnswer{status: resp.StatusCode, header: resp.Header}
	json.Unmarshal(b, &a.body)
	json.Unmarshal(b, &a.problem)
	if resp.Header.Get("API-Version") != "1.0.0" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s %s: headers %v, want API-Version and Cache-Control", method, path, resp.Header)
	}
	return a
}

func TestPostLetterAccepted(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	a := f.post(t, tokenScanstraat, pushParts(exampleSidecar, apiPDF))
	if a.status != 202 || a.body["klantcontact"] != exampleKlantcontact || a.body["status"] != "aanvaard" ||
		a.header.Get("Location") != "/v1/brieven/SCAN-20240312-000123" || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST example letter = %d %v %v, want 202 with klantcontact %s", a.status, a.header, a.body, exampleKlantcontact)
	}
	z := f.zones["scanstraat"]
	if got := strings.Join(z.puts, ","); got != "SCAN-20240312-000123.pdf,SCAN-20240312-000123.json" {
		t.Errorf("writes = %s, want the scan, then the sidecar", got)
	}
	if !bytes.Equal(z.get(ingest.PlaceTop, "SCAN-20240312-000123.json"), []byte(exampleSidecar)) || !bytes.Equal(z.get(ingest.PlaceTop, "SCAN-20240312-000123.pdf"), apiPDF) {
		t.Errorf("stored files differ from what was sent")
	}
	if len(f.zones["postkamer"].puts) != 0 {
		t.Errorf("another vendor's zone was written")
	}
	// The same letter again: the same apiAnswer, nothing written (at the top and processed).
	for _, stage := range []string{"top", "processed"} {
		if stage == "processed" {
			z.Done(context.Background(), "SCAN-20240312-000123.json")
			z.Done(context.Background(), "SCAN-20240312-000123.pdf")
		}
		b := f.post(t, tokenScanstraat, []apiPart{pushParts(exampleSidecar, apiPDF)[1], pushParts(exampleSidecar, apiPDF)[0]})
		if b.status != 202 || b.body["klantcontact"] != exampleKlantcontact || b.header.Get("Location") != a.header.Get("Location") || len(z.puts) != 2 {
			t.Errorf("repeat (%s) = %d %v, %d writes; want the same 202 and no write", stage, b.status, b.body, len(z.puts))
		}
		// The same scanId with other content is a conflict.
		other := strings.Replace(exampleSidecar, "afgebroken", "kapot", 1)
		for name, l := range map[string][]apiPart{"other metadata": pushParts(other, apiPDF), "other scan": pushParts(exampleSidecar, append([]byte("%PDF-1.4"), apiPDF...))} {
			if c := f.post(t, tokenScanstraat, l); c.status != 409 || c.problem.Type != "urn:instroom:probleem:conflict" {
				t.Errorf("%s (%s) = %d %+v, want 409 conflict", name, stage, c.status, c.problem)
			}
		}
	}
	// The same scanId from another vendor is another letter.
	if c := f.post(t, tokenPostkamer, pushParts(exampleSidecar, apiPDF)); c.status != 202 || c.body["klantcontact"] == exampleKlantcontact {
		t.Errorf("same scanId from postkamer = %d %v, want 202 with another klantcontact", c.status, c.body)
	}
}

func TestPostLetterAfterFailure(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	z := f.zones["scanstraat"]
	f.post(t, tokenScanstraat, pushParts(exampleSidecar, apiPDF))
	z.Fail(context.Background(), "SCAN-20240312-000123.json", "invalid", "")
	z.Fail(context.Background(), "SCAN-20240312-000123.pdf", "invalid", "")
	if a := f.do(t, "GET", "/v1/brieven/SCAN-20240312-000123", tokenScanstraat, "", nil); a.status != 200 || a.body["status"] != "mislukt" || a.body["reden"] != "invalid" {
		t.Errorf("GET after failure = %d %v, want mislukt with reden invalid", a.status, a.body)
	}
	other := append([]byte("%PDF-1.4 nieuw"), apiPDF...)
	if a := f.post(t, tokenScanstraat, pushParts(exampleSidecar, other)); a.status != 202 || len(z.puts) != 4 {
		t.Errorf("new attempt after failed/ = %d, %d writes; want 202 and both written again", a.status, len(z.puts))
	}
	if a := f.do(t, "GET", "/v1/brieven/SCAN-20240312-000123", tokenScanstraat, "", nil); a.body["status"] != "aanvaard" || a.body["reden"] != nil {
		t.Errorf("GET after a new attempt = %v, want aanvaard", a.body)
	}
	if z.get(ingest.PlaceFailed, "SCAN-20240312-000123.json") == nil {
		t.Errorf("the failed copy was removed")
	}
}

func TestPostLetterBestandTaken(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	z := f.zones["scanstraat"]
	f.post(t, tokenScanstraat, pushParts(exampleSidecar, apiPDF))
	second := strings.Replace(exampleSidecar, `"scanId":"SCAN-20240312-000123"`, `"scanId":"SCAN-2"`, 1)
	if a := f.post(t, tokenScanstraat, pushParts(second, apiPDF)); a.status != 409 {
		t.Errorf("bestand named by another top-level sidecar = %d, want 409", a.status)
	}
	z.Put(context.Background(), "LOS.pdf", bytes.NewReader([]byte("%PDF-oud")), 8)
	third := strings.Replace(second, "SCAN-20240312-000123.pdf", "LOS.pdf", 1)
	if a := f.post(t, tokenScanstraat, pushParts(third, apiPDF)); a.status != 202 || !bytes.Equal(z.get(ingest.PlaceTop, "LOS.pdf"), apiPDF) {
		t.Errorf("unclaimed file of that name = %d, want 202 and the file replaced", a.status)
	}
}

func TestPostLetterInvalid(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	bad := `{"scanId":"SCAN-1","gescandOp":"12 maart 2024","bestand":"SCAN-1.pdf","kleur":"blauw"}`
	cases := []struct {
		name  string
		parts []apiPart
		want  []string // name/code of every invalid param
	}{
		{"schema and missing scan", []apiPart{{"metadata", "application/json", []byte(bad)}}, []string{"/gescandOp/format", "/kleur/additionalProperties", "scan/required"}},
		{"no parts", nil, []string{"metadata/required", "scan/required"}},
		{"repeated and unknown parts", append(pushParts(exampleSidecar, apiPDF), apiPart{"scan", "", apiPDF}, apiPart{"metadata", "", []byte("{}")}, apiPart{"kleur", "", nil}), []string{"kleur/unknown-part", "metadata/duplicate-part", "scan/duplicate-part"}},
		{"not JSON", pushParts(`{"scanId":`, apiPDF), []string{"/json"}},
		{"missing members", pushParts(`{}`, apiPDF), []string{"/bestand/required", "/gescandOp/required", "/scanId/required"}},
	}
	for _, tc := range cases {
		a := f.post(t, tokenScanstraat, tc.parts)
		var got []string
		for _, p := range a.problem.InvalidParams {
			got = append(got, p.Name+"/"+p.Code)
			if strings.Contains(p.Reason, "blauw") || strings.Contains(p.Reason, "12 maart") {
				t.Errorf("%s: reason %q echoes a submitted value", tc.name, p.Reason)
			}
		}
		sort.Strings(got)
		if a.status != 400 || a.problem.Type != "urn:instroom:probleem:ongeldig" || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s = %d %v, want 400 with %v", tc.name, a.status, got, tc.want)
		}
	}
	if n := len(f.zones["scanstraat"].puts); n != 0 {
		t.Errorf("%d files written for invalid letters, want none", n)
	}
}

func TestPostLetterMediaTypes(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	cases := []struct {
		name  string
		parts []apiPart
	}{
		{"metadata as text/plain", []apiPart{{"metadata", "text/plain", []byte(exampleSidecar)}, {"scan", "", apiPDF}}},
		{"scan not a scan", pushParts(exampleSidecar, []byte("GIF89a....."))},
		{"empty scan", pushParts(exampleSidecar, nil)},
		{"415 before 400", []apiPart{{"metadata", "text/xml", []byte("<x/>")}}},
	}
	for _, tc := range cases {
		if a := f.post(t, tokenScanstraat, tc.parts); a.status != 415 || a.problem.Type != "urn:instroom:probleem:mediatype-niet-ondersteund" {
			t.Errorf("%s = %d %+v, want 415", tc.name, a.status, a.problem)
		}
	}
	for _, scan := range [][]byte{[]byte("II*\x00rest"), []byte("MM\x00*rest"), []byte("\x89PNG\r\n\x1a\nrest"), []byte("\xFF\xD8\xFFrest")} {
		if a := f.post(t, tokenScanstraat, []apiPart{{"metadata", "", []byte(exampleSidecar)}, {"scan", "application/apiPDF", scan}}); a.status != 202 && a.status != 409 {
			t.Errorf("scan starting %q = %d, want accepted by its first bytes", scan[:4], a.status)
		}
	}
	ct, body := apiMultipart(pushParts(exampleSidecar, apiPDF))
	for _, bad := range []string{"application/json", "multipart/mixed; " + strings.SplitN(ct, "; ", 2)[1], "multipart/form-data"} {
		if a := f.do(t, "POST", "/v1/brieven", tokenScanstraat, bad, body); a.status != 415 {
			t.Errorf("request Content-Type %q = %d, want 415", bad, a.status)
		}
	}
}

func TestPostLetterAccessAndLimits(t *testing.T) {
	f := newAPIFixture(t, 4096)
	if a := f.post(t, "", pushParts(exampleSidecar, apiPDF)); a.status != 401 || a.header.Get("WWW-Authenticate") != `Bearer realm="instroom"` {
		t.Errorf("unauthenticated = %d %v, want 401 with the challenge", a.status, a.header)
	}
	if a := f.post(t, tokenChat, pushParts(exampleSidecar, apiPDF)); a.status != 403 {
		t.Errorf("vendor of another channel = %d, want 403", a.status)
	}
	big := append(append([]byte{}, apiPDF...), bytes.Repeat([]byte("x"), 5000)...)
	if a := f.post(t, tokenScanstraat, pushParts(exampleSidecar, big)); a.status != 413 {
		t.Errorf("over the limit by Content-Length = %d, want 413", a.status)
	}
	ct, body := apiMultipart(pushParts(exampleSidecar, big))
	r, _ := http.NewRequest("POST", f.srv.URL+"/v1/brieven", io.MultiReader(bytes.NewReader(body)))
	r.Header.Set("Content-Type", ct)
	r.Header.Set("Authorization", "Bearer "+tokenScanstraat)
	resp, err := f.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("over the limit while streaming = %d, want 413", resp.StatusCode)
	}
	if n := len(f.zones["scanstraat"].puts); n != 0 {
		t.Errorf("%d files written for refused letters, want none", n)
	}
}

func TestPostLetterZoneFails(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	z := f.zones["scanstraat"]
	z.failPut["SCAN-20240312-000123.json"] = errors.New("schijf vol")
	a := f.post(t, tokenScanstraat, pushParts(exampleSidecar, apiPDF))
	if a.status != 503 || a.header.Get("Retry-After") != "30" || a.problem.Type != "urn:instroom:probleem:niet-beschikbaar" {
		t.Errorf("sidecar write fails = %d %v, want 503 with Retry-After 30", a.status, a.header)
	}
	if len(z.files[ingest.PlaceTop]) != 0 {
		t.Errorf("after a failed write the zone holds %d files, want none (nothing half written)", len(z.files[ingest.PlaceTop]))
	}
	delete(z.failPut, "SCAN-20240312-000123.json")
	if a := f.post(t, tokenScanstraat, pushParts(exampleSidecar, apiPDF)); a.status != 202 {
		t.Errorf("retry after the zone is back = %d, want 202", a.status)
	}
}

func TestGetLetterStatus(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	f.post(t, tokenScanstraat, pushParts(exampleSidecar, apiPDF))
	a := f.do(t, "GET", "/v1/brieven/SCAN-20240312-000123", tokenScanstraat, "", nil)
	if a.status != 200 || a.body["status"] != "aanvaard" || a.body["klantcontact"] != exampleKlantcontact || a.body["scanId"] != "SCAN-20240312-000123" {
		t.Errorf("GET = %d %v, want aanvaard", a.status, a.body)
	}
	f.zones["scanstraat"].Done(context.Background(), "SCAN-20240312-000123.json")
	if a := f.do(t, "GET", "/v1/brieven/SCAN-20240312-000123", tokenScanstraat, "", nil); a.body["status"] != "verwerkt" {
		t.Errorf("GET after processing = %v, want verwerkt", a.body)
	}
	for _, p := range []struct{ token, path string }{
		{tokenPostkamer, "/v1/brieven/SCAN-20240312-000123"}, // another vendor's id
		{tokenScanstraat, "/v1/brieven/ONBEKEND"},
		{tokenScanstraat, "/v1/brieven/.verborgen"},
		{tokenScanstraat, "/v1/brieven/a%2Fb"},
		{tokenScanstraat, "/v1/brieven/" + strings.Repeat("a", 65)},
	} {
		if a := f.do(t, "GET", p.path, p.token, "", nil); a.status != 404 || a.problem.Type != "urn:instroom:probleem:niet-gevonden" {
			t.Errorf("GET %s = %d, want 404", p.path, a.status)
		}
	}
}

func TestPostLetterConcurrentRepeats(t *testing.T) {
	f := newAPIFixture(t, 1<<20)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() { statuses[i] = f.post(t, tokenScanstraat, pushParts(exampleSidecar, apiPDF)).status })
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 202 {
			t.Errorf("concurrent push %d = %d, want 202", i, s)
		}
	}
	if n := len(f.zones["scanstraat"].puts); n != 2 {
		t.Errorf("8 concurrent identical pushes wrote %d files, want 2 (one letter)", n)
	}
}

// TestPostLetterHugeMetadata: a metadata part larger than any valid document is refused
// as invalid (400), not as too large, while the body is within its limit.
func TestPostLetterHugeMetadata(t *testing.T) {
	f := newAPIFixture(t, 64<<20)
	meta := `{"scanId":"S","gescandOp":"2024-03-12T09:41:17+01:00","bestand":"S.pdf","ocrTekst":"` + strings.Repeat("x", maxMetadataBytes) + `"}`
	a := f.post(t, tokenScanstraat, pushParts(meta, apiPDF))
	if a.status != 400 || len(a.problem.InvalidParams) != 1 || a.problem.InvalidParams[0].Name != "metadata" {
		t.Errorf("metadata of %d bytes = %d %+v, want 400 naming metadata", len(meta), a.status, a.problem)
	}
}
