package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/instroom/instroom/channels/brief"
	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

var updateDocs = flag.Bool("update-openapi", false, "rewrite docs/intake-openapi.json from the served document")

// The tokens of the contract's §11 example.
const (
	tokenScanstraat     = "voorbeeld-token-scanstraat"
	hashScanstraat      = "dfa66d65d537bbdbdb4108e346c2981d36bea5a03d6ba703f696061a5c36063e"
	hashChatleverancier = "fae361f5ef1a8ea4ab91b802bce080d33cd63645b0e87bf4bc47f28da44df1ba"
	exampleSidecar      = `{"scanId":"SCAN-20240312-000123","gescandOp":"2024-03-12T09:41:17+01:00","bestand":"SCAN-20240312-000123.pdf","documenttype":"brief"}`
	exampleKlantcontact = "7d4a06c7-6e65-5171-8f09-f8ef160ad9db"
)

var examplePDF = []byte("%PDF-1.7\n%%EOF\n")

// fakeRuntime is a channel runtime that contributes one route.
type fakeRuntime struct{}

func (fakeRuntime) Parser() ingest.Parser { return nil }
func (fakeRuntime) Sources(context.Context, ingest.SourceConfig) ([]ingest.NamedSource, error) {
	return nil, nil
}
func (fakeRuntime) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: "POST /v1/proef", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		w.Write(append([]byte("ontvangen: "), b...))
	})}}
}

// startTestIntake sets up channels on the configuration yml (in a temporary directory),
// opens their sources (without running them) and serves the intake API.
func startTestIntake(t *testing.T, yml string, reg prometheus.Registerer, channels ...ingest.Channel) (string, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := config.Parse([]byte(yml), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cs := &channelSet{list: channels, runtimes: map[string]ingest.Runtime{}}
	for _, ch := range channels {
		if cs.runtimes[ch.Name], err = ch.Setup(channelEnv(c, log, false, false), c.ChannelSettings(ch.Name).Decoder()); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if _, err := newStreams(ctx, c, cs, false); err != nil {
		t.Fatal(err)
	}
	var obs intakeapi.Observer
	if reg != nil {
		obs = newMetrics(reg)
	}
	srv, err := serveIntake(ctx, c, cs, log, obs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.stop(ctx) })
	return "http://" + srv.Addr().String(), dir
}

const letterConfig = `data_dir: data
intake:
  listen: 127.0.0.1:0
  vendors:
    scanstraat: {channels: [brief], token_sha256: [` + hashScanstraat + `]}
    chatleverancier: {channels: [chat], token_sha256: [` + hashChatleverancier + `]}
sources:
`

func letterBody(meta string, scan []byte) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{"Content-Disposition": {`form-data; name="metadata"`}, "Content-Type": {"application/json"}}
	w, _ := mw.CreatePart(h)
	w.Write([]byte(meta))
	w, _ = mw.CreateFormFile("scan", "scan.pdf")
	w.Write(scan)
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func send(t *testing.T, method, url, token, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	r, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("API-Version") != "1.0.0" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("%s %s: headers %v, want those of every intake response", method, url, resp.Header)
	}
	return resp, b
}

// TestIntakeServerServesChannelRoutes: the one intake server serves the routes the
// channels contribute, behind the front door, and nothing else.
func TestIntakeServerServesChannelRoutes(t *testing.T) {
	base, _ := startTestIntake(t, `data_dir: data
intake:
  listen: 127.0.0.1:0
  vendors: {proef: {channels: [proef], token_sha256: [`+hashScanstraat+`]}}
sources: [{type: dir, channel: proef, path: x}]
`, nil, ingest.Channel{Name: "proef", SourceTypes: []string{"dir"}, Setup: func(ingest.Env, ingest.Decoder) (ingest.Runtime, error) { return fakeRuntime{}, nil }})
	resp, b := send(t, "POST", base+"/v1/proef", tokenScanstraat, "text/plain", []byte("brief"))
	if resp.StatusCode != http.StatusAccepted || string(b) != "ontvangen: brief" {
		t.Errorf("POST /v1/proef = %d %q, want 202 from the channel's handler", resp.StatusCode, b)
	}
	if resp, _ := send(t, "POST", base+"/v1/proef", "", "text/plain", []byte("brief")); resp.StatusCode != 401 {
		t.Errorf("POST /v1/proef without a token = %d, want 401", resp.StatusCode)
	}
	for _, probe := range []struct {
		method, path string
		want         int
	}{{"GET", "/v1/proef", 405}, {"GET", "/metrics", 404}, {"POST", "/v1/anders", 404}, {"POST", "/v1/proef/", 404}} {
		if resp, _ := send(t, probe.method, base+probe.path, tokenScanstraat, "", nil); resp.StatusCode != probe.want {
			t.Errorf("%s %s = %d, want %d", probe.method, probe.path, resp.StatusCode, probe.want)
		}
	}
}

// TestIntakeLetterPush pushes letters to the real server with a directory drop zone.
func TestIntakeLetterPush(t *testing.T) {
	reg := prometheus.NewRegistry()
	base, dir := startTestIntake(t, letterConfig+"  - {name: brieven, type: dir, channel: brief, path: brieven}\n", reg, brief.Descriptor)
	ct, body := letterBody(exampleSidecar, examplePDF)
	for i := range 2 { // the second is a repeat: same answer, nothing written
		resp, b := send(t, "POST", base+"/v1/brieven", tokenScanstraat, ct, body)
		var got map[string]string
		json.Unmarshal(b, &got)
		if resp.StatusCode != 202 || got["klantcontact"] != exampleKlantcontact || got["status"] != "aanvaard" || resp.Header.Get("Location") != "/v1/brieven/SCAN-20240312-000123" {
			t.Fatalf("push %d = %d %s %v, want 202 with klantcontact %s", i, resp.StatusCode, b, resp.Header, exampleKlantcontact)
		}
	}
	folder := filepath.Join(dir, "brieven", "scanstraat")
	if b, _ := os.ReadFile(filepath.Join(folder, "SCAN-20240312-000123.json")); string(b) != exampleSidecar {
		t.Errorf("sidecar in the drop zone = %q, want the metadata part unchanged", b)
	}
	if b, _ := os.ReadFile(filepath.Join(folder, "SCAN-20240312-000123.pdf")); !bytes.Equal(b, examplePDF) {
		t.Errorf("scan in the drop zone = %q, want the scan part unchanged", b)
	}
	ct2, body2 := letterBody(exampleSidecar, append([]byte("%PDF-1.4 "), examplePDF...))
	if resp, _ := send(t, "POST", base+"/v1/brieven", tokenScanstraat, ct2, body2); resp.StatusCode != 409 {
		t.Errorf("same scanId, other scan = %d, want 409", resp.StatusCode)
	}
	resp, b := send(t, "GET", base+"/v1/brieven/SCAN-20240312-000123", tokenScanstraat, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":"aanvaard"`) {
		t.Errorf("GET status = %d %s, want aanvaard", resp.StatusCode, b)
	}
	if resp, _ := send(t, "POST", base+"/v1/brieven", "", ct, body); resp.StatusCode != 401 {
		t.Errorf("unauthenticated push = %d, want 401", resp.StatusCode)
	}
	got := counterValue(t, reg, "scanstraat", "brieven", "202")
	if got != 2 {
		t.Errorf("intake_requests_total{scanstraat,brieven,202} = %v, want 2", got)
	}
}

// counterValue gathers one intake_requests_total series.
func counterValue(t *testing.T, reg *prometheus.Registry, vendor, resource, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "intake_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["vendor"] == vendor && l["resource"] == resource && l["status"] == status {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}

// TestIntakeZoneUnreachable: pushes into an S3 drop zone whose gateway has stopped are
// answered 503 with Retry-After, and nothing of them is stored.
func TestIntakeZoneUnreachable(t *testing.T) {
	s3 := ingesttest.StartS3(t, nil)
	s3.CreateBucket(t, "aanlevering")
	base, _ := startTestIntake(t, letterConfig+fmt.Sprintf(`  - name: brieven
    type: s3
    channel: brief
    prefix: brieven
    s3: {endpoint: %s, bucket: aanlevering, path_style: true, insecure: true, access_key: %s, secret_key: %s}
`, s3.Endpoint, s3.AccessKey, s3.SecretKey), nil, brief.Descriptor)
	ct, body := letterBody(exampleSidecar, examplePDF)
	if resp, b := send(t, "POST", base+"/v1/brieven", tokenScanstraat, ct, body); resp.StatusCode != 202 {
		t.Fatalf("push with the gateway up = %d %s, want 202", resp.StatusCode, b)
	}
	s3.Stop()
	second := strings.ReplaceAll(exampleSidecar, "SCAN-20240312-000123", "SCAN-2")
	ct, body = letterBody(second, examplePDF)
	resp, b := send(t, "POST", base+"/v1/brieven", tokenScanstraat, ct, body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "30" || !strings.Contains(string(b), "niet-beschikbaar") {
		t.Errorf("push with the gateway down = %d %v %s, want 503 niet-beschikbaar with Retry-After 30", resp.StatusCode, resp.Header, b)
	}
	left, _ := filepath.Glob(filepath.Join(s3.Dir, "aanlevering", "brieven", "scanstraat", "SCAN-2.*"))
	if len(left) != 0 {
		t.Errorf("after a 503 the zone holds %v, want nothing of the letter", left)
	}
}

// TestIntakeNeedsOneDropZone: with intake.listen set, a channel a vendor may push to has
// exactly one drop-zone source.
func TestIntakeNeedsOneDropZone(t *testing.T) {
	for _, n := range []int{0, 2} {
		yml := letterConfig + "  - {name: post, type: maildir, path: inbox}\n"
		for i := range n {
			yml += fmt.Sprintf("  - {name: brieven%d, type: dir, channel: brief, path: brieven%d}\n", i, i)
		}
		c, err := config.Parse([]byte(yml), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := brief.Descriptor.Setup(channelEnv(c, slog.New(slog.DiscardHandler), false, true), c.ChannelSettings("brief").Decoder())
		if err != nil {
			t.Fatal(err)
		}
		cs := &channelSet{list: []ingest.Channel{brief.Descriptor}, runtimes: map[string]ingest.Runtime{"brief": rt}}
		if err := checkIntakeSources(c, cs); err == nil || !strings.Contains(err.Error(), "exactly one drop-zone source") {
			t.Errorf("checkIntakeSources(%d letter sources) = %v, want an error asking for exactly one", n, err)
		}
	}
}

// TestIntakeOpenAPIDocument: the served document equals docs/intake-openapi.json, is a
// valid OpenAPI 3.1 document, and its component Brief is brief.schema.json unchanged.
func TestIntakeOpenAPIDocument(t *testing.T) {
	base, _ := startTestIntake(t, letterConfig+"  - {name: brieven, type: dir, channel: brief, path: brieven}\n  - {name: gesprekken, type: dir, channel: chat, path: gesprekken}\n", nil, channelList()...)
	resp, served := send(t, "GET", base+"/v1/openapi.json", "", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET /v1/openapi.json = %d %v, want 200 for every origin", resp.StatusCode, resp.Header)
	}
	const copyPath = "../../docs/intake-openapi.json"
	if *updateDocs {
		if err := os.WriteFile(copyPath, served, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if kept, err := os.ReadFile(copyPath); err != nil || !bytes.Equal(kept, served) {
		t.Errorf("docs/intake-openapi.json differs from the served document (%v); run go test ./cmd/instroom -run OpenAPIDocument -update-openapi", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(served)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Errorf("the document is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.IsOpenAPI32OrLater() || doc.Info.Version != "1.0.0" || len(doc.Servers) != 1 || !strings.HasSuffix(doc.Servers[0].URL, "/v1") {
		t.Errorf("openapi %s, info.version %s, servers %v; want 3.1, 1.0.0 and a server ending in /v1", doc.OpenAPI, doc.Info.Version, doc.Servers)
	}
	var raw struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	json.Unmarshal(served, &raw)
	b, _ := os.ReadFile("../../channels/brief/brief.schema.json")
	var want any
	json.Unmarshal(b, &want)
	if !reflect.DeepEqual(raw.Components.Schemas["Brief"], want) {
		t.Errorf("components.schemas.Brief differs from brief.schema.json")
	}
	// The transcript schema is the contract's file with its internal references pointing
	// into the component (so OpenAPI tools resolve them); nothing else differs.
	b, _ = os.ReadFile("../../channels/chat/gesprek.schema.json")
	want = nil
	json.Unmarshal(bytes.ReplaceAll(b, []byte(`"#/$defs/`), []byte(`"#/components/schemas/Gesprek/$defs/`)), &want)
	if !reflect.DeepEqual(raw.Components.Schemas["Gesprek"], want) {
		t.Errorf("components.schemas.Gesprek differs from gesprek.schema.json (with its $defs references into the component)")
	}
	for _, path := range []string{"/brieven", "/brieven/{scanId}", "/gesprekken", "/gesprekken/{gesprekId}"} {
		if doc.Paths.Find(path) == nil {
			t.Errorf("the document lacks %s", path)
		}
	}
}
