package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// received is the fixed receipt time of every test transcript.
var received = time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)

const testVendor = "chatleverancier"

func gesprekItem(raw []byte, vendor string) *ingest.Item {
	return &ingest.Item{
		Ref: vendor + "/x.json", Size: int64(len(raw)), ReceivedAt: received, Vendor: vendor,
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
	}
}

func fileItem(t testing.TB, path string) *ingest.Item {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return gesprekItem(raw, testVendor)
}

// fakeFetch stands in for downloads in golden tests: a URL ending in /weg is gone, any
// other gives a small fixed PDF-like body.
func fakeFetch(_ context.Context, vendor, url string) ([]byte, string, error) {
	if strings.HasSuffix(url, "/weg") {
		return nil, skipGone, nil
	}
	return []byte("%PDF-1.4 bijlage van " + vendor), "", nil
}

func testParser() *Parser {
	p := NewParser(&Options{URLHosts: map[string][]string{testVendor: {"bijlagen.chatleverancier.example"}}})
	p.fetch = fakeFetch
	return p
}

func testMapOptions() *ingest.MapOptions {
	kcc := ingest.ActorSpec{Naam: "KCC", SoortActor: "organisatorische_eenheid", Omschrijving: "Klant Contact Centrum"}
	return &ingest.MapOptions{
		Taal:            "nld",
		Channels:        map[string]ingest.ChannelDefaults{Channel: Descriptor.Defaults},
		Worker:          ingest.ActorSpec{Naam: "Instroom", SoortActor: "geautomatiseerde_actor", Functie: "Registreren inkomende berichten"},
		Eenheden:        map[string]ingest.ActorSpec{"kcc": kcc},
		Router:          &ingest.Router{Default: []ingest.TaskSpec{{GevraagdeHandeling: "routing.default mag niet", EenheidKeys: []string{"kcc"}}}},
		Bronorganisatie: "002220647",
	}
}

// golden is what a golden file holds: the registration and its internetaken events.
type golden struct {
	Registration *ingest.Registration      `json:"registration"`
	Internetaken []ingest.InternetaakEvent `json:"internetaken"`
}

func gesprekCases(t *testing.T) []string {
	files, _ := filepath.Glob("testdata/*.json")
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			out = append(out, f)
		}
	}
	if len(out) < 10 {
		t.Fatalf("want at least 10 test transcripts, found %d", len(out))
	}
	return out
}

// register parses and maps one item and checks the result against Open Klant and the
// event schemas.
func register(t *testing.T, ev *ingesttest.EventValidator, item *ingest.Item) (*ingest.Mapped, golden) {
	t.Helper()
	in, err := testParser().Parse(context.Background(), item)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	m, err := ingest.Map(in, testMapOptions())
	if err != nil {
		t.Fatalf("Map = %v", err)
	}
	reg := &m.Registration
	if err := ingesttest.ValidateRegistration(reg); err != nil {
		t.Errorf("registration does not conform to Open Klant:\n%v", err)
	}
	msgs, err := ingest.Events(reg, "urn:instroom:test", ingest.Topics{})
	if err != nil {
		t.Fatal(err)
	}
	g := golden{Registration: reg, Internetaken: []ingest.InternetaakEvent{}}
	for _, msg := range msgs {
		if err := ev.Validate(msg); err != nil {
			t.Errorf("event on %s does not match its schema: %v", msg.Topic, err)
		}
		if msg.Topic == "internetaken" {
			var e ingest.InternetaakEvent
			if err := json.Unmarshal(msg.Value, &e); err != nil {
				t.Fatal(err)
			}
			g.Internetaken = append(g.Internetaken, e)
		}
	}
	checkObjects(t, m)
	return m, g
}

func TestGolden(t *testing.T) {
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range gesprekCases(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			_, g := register(t, ev, fileItem(t, f))
			compareGolden(t, name, g)
		})
	}
}

// checkObjects checks that every object's size and hash match its content.
func checkObjects(t *testing.T, m *ingest.Mapped) {
	t.Helper()
	for i, o := range m.Objects {
		rc, err := o.Content.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		io := m.Registration.Informatieobjecten[i]
		if int64(len(b)) != io.Bestandsomvang || ingest.BytesContent("", "", b).SHA256 != io.Integriteit.Waarde {
			t.Errorf("informatieobject %d (%s): size/hash in event do not match content", i, io.Soort)
		}
	}
}

func compareGolden(t *testing.T, name string, g golden) {
	t.Helper()
	got, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	gf := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(gf, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(gf)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("registration of %s differs from %s (run go test ./channels/chat -run TestGolden -update and review the diff):\n%s", name, gf, got)
	}
}

// TestContractIDs checks the klantcontact uuids of contracts/intake-api.md §10.
func TestContractIDs(t *testing.T) {
	for file, want := range map[string]string{
		"gesprek-c1242-beantwoord.json":   "65c7a3ea-3568-5a6e-8685-859af17d5b67",
		"gesprek-c9309-overgedragen.json": "9bc3fe00-082d-5c9b-a8d8-d9fb5c860358",
		"gesprek-c9476-terugbellen.json":  "6d42354d-1dc4-5c82-b4c8-193d875d5c9e",
		"gesprek-c5479-formulier.json":    "e79e835b-7740-5e69-84fb-959be8777e25",
		"gesprek-c9853-whatsapp.json":     "d0759935-34ef-5c7b-a36b-8094056429fb",
	} {
		in, err := testParser().Parse(context.Background(), fileItem(t, filepath.Join("testdata", file)))
		if err != nil {
			t.Fatalf("Parse(%s) = %v", file, err)
		}
		if got := ingest.KlantcontactID(in.Channel, in.Identity); got != want {
			t.Errorf("KlantcontactID(%s from %s) = %s, want %s", file, testVendor, got, want)
		}
	}
}

// TestContractRendering checks the rendered line the contract quotes from C1242.
func TestContractRendering(t *testing.T) {
	in, err := testParser().Parse(context.Background(), fileItem(t, "testdata/gesprek-c1242-beantwoord.json"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "14:02 Klant: Mijn paspoort verloopt volgende maand. Hoe vraag ik een nieuw paspoort aan?"
	if first, _, _ := strings.Cut(in.Text, "\n"); first != want {
		t.Errorf("first rendered line = %q, want %q", first, want)
	}
}

// TestParseBadInput checks that each kind of bad transcript fails for good with its
// reason, and that the error names the fields at fault.
func TestParseBadInput(t *testing.T) {
	const msg = `[{"van":"klant","tijdstip":"2024-05-01T10:00:00Z","tekst":"x"}]`
	cases := []struct {
		name, doc, vendor, reason string
		mentions                  []string // in the error text
	}{
		{"not JSON", `{"gesprekId":`, testVendor, ingest.ReasonUnparseable, nil},
		{"not UTF-8", "{\"gesprekId\":\"g\xff\"}", testVendor, ingest.ReasonUnparseable, nil},
		{"empty", ``, testVendor, ingest.ReasonUnparseable, nil},
		{"schema", `{"gesprekId":"g1","kanaal":"","berichten":[{"van":"robot","tijdstip":"gisteren"}],"uitkomst":{"soort":"x"},"kleur":"rood"}`,
			testVendor, ingest.ReasonInvalid, []string{"/kanaal minLength", "/berichten/0/van enum", "/berichten/0/tijdstip format", "/uitkomst/soort enum", "(document) additionalProperties"}},
		{"missing gesprekId", `{"kanaal":"chat","berichten":` + msg + `,"uitkomst":{"soort":"beantwoord"}}`, testVendor, ingest.ReasonInvalid, []string{"/gesprekId required"}},
		{"zero messages", `{"gesprekId":"g1","kanaal":"chat","berichten":[],"uitkomst":{"soort":"beantwoord"}}`, testVendor, ingest.ReasonInvalid, []string{"/berichten minItems"}},
		{"call-back without number", `{"gesprekId":"g1","kanaal":"chat","berichten":` + msg + `,"uitkomst":{"soort":"terugbelverzoek"}}`, testVendor, ingest.ReasonInvalid, []string{"/uitkomst/telefoonnummer required"}},
		{"attachment both ways", `{"gesprekId":"g1","kanaal":"chat","berichten":[{"van":"klant","tijdstip":"2024-05-01T10:00:00Z","bijlagen":[{"bestandsnaam":"a","mediaType":"text/plain","inhoud":"YQ==","url":"https://h/a"}]}],"uitkomst":{"soort":"beantwoord"}}`,
			testVendor, ingest.ReasonInvalid, []string{"/berichten/0/bijlagen/0 oneOf"}},
		{"no vendor", `{"gesprekId":"g1","kanaal":"chat","berichten":` + msg + `,"uitkomst":{"soort":"beantwoord"}}`, "", ingest.ReasonInvalid, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testParser().Parse(context.Background(), gesprekItem([]byte(tc.doc), tc.vendor))
			if got := ingest.ReasonOf(err); got != tc.reason {
				t.Fatalf("ReasonOf(Parse(%s)) = %q (%v), want %q", tc.name, got, err, tc.reason)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Parse(%s) = %v, want it to name %q", tc.name, err, m)
				}
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	p := NewParser(&Options{MaxBytes: 100})
	raw, _ := os.ReadFile("testdata/gesprek-c1242-beantwoord.json")
	if _, err := p.Parse(context.Background(), gesprekItem(raw, testVendor)); ingest.ReasonOf(err) != ingest.ReasonTooLarge {
		t.Errorf("ReasonOf(Parse(over MaxBytes)) = %q, want too_large", ingest.ReasonOf(err))
	}
}

// TestManyMessages: 10,000 messages are rendered and cut to 1000 characters in inhoud,
// the full text kept as volledige_tekst.
func TestManyMessages(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"gesprekId":"test-10000","kanaal":"chat","berichten":[`)
	for i := range 10000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"van":"klant","tijdstip":"2024-05-01T%02d:%02d:00Z","tekst":"bericht %d"}`, i/60%24, i%60, i)
	}
	b.WriteString(`],"uitkomst":{"soort":"onbekend"}}`)
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := register(t, ev, gesprekItem([]byte(b.String()), testVendor))
	kc := m.Registration.Klantcontact
	if n := len([]rune(kc.Inhoud)); n != ingest.MaxInhoud {
		t.Errorf("len(inhoud) = %d, want %d", n, ingest.MaxInhoud)
	}
	var full string
	for i, io := range m.Registration.Informatieobjecten {
		if io.Soort == "volledige_tekst" {
			rc, _ := m.Objects[i].Content.Open(context.Background())
			bb, _ := ioReadAll(rc)
			full = string(bb)
		}
	}
	if strings.Count(full, "\n") < 10000 || !strings.Contains(full, "Klant: bericht 9999") {
		t.Errorf("volledige_tekst holds %d lines, want all 10000 messages", strings.Count(full, "\n"))
	}
	if len(m.Registration.InterneTaken) != 1 || !strings.Contains(m.Registration.InterneTaken[0].Toelichting, "ingekort") {
		t.Errorf("interne taken = %+v, want the default task with the note that the text was cut", m.Registration.InterneTaken)
	}
}

func ioReadAll(rc io.ReadCloser) ([]byte, error) {
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestPrivacy: a BSN and an IBAN typed by the customer stay in the stored transcript but
// never appear in an error, an object key or a file name.
func TestPrivacy(t *testing.T) {
	const bsn, iban = "123456782", "NL91ABNA0417164300"
	raw, err := os.ReadFile("testdata/chat-privacy.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := register(t, ev, gesprekItem(raw, testVendor))
	for _, o := range m.Objects {
		if strings.Contains(o.Key, bsn) || strings.Contains(o.Key, iban) {
			t.Errorf("object key %q holds the BSN or IBAN", o.Key)
		}
	}
	if !strings.Contains(m.Registration.Klantcontact.Inhoud, bsn) {
		t.Errorf("inhoud lost the customer's text")
	}
	// Errors: a schema violation next to the BSN and IBAN, and a failing download.
	bad := strings.Replace(string(raw), `"kanaal": "chat"`, `"kanaal": "`+bsn+` `+iban+strings.Repeat("x", 60)+`"`, 1)
	bad = strings.Replace(bad, `"van": "klant"`, `"van": "`+iban+`"`, 1)
	_, err = testParser().Parse(context.Background(), gesprekItem([]byte(bad), testVendor))
	if err == nil || strings.Contains(err.Error(), bsn) || strings.Contains(err.Error(), iban) {
		t.Errorf("Parse(invalid with BSN and IBAN) = %v, want an error without them", err)
	}
	_, probs := decodeGesprek([]byte(bad))
	for _, p := range probs {
		if strings.Contains(p.Name+p.Reason, bsn) || strings.Contains(p.Name+p.Reason, iban) {
			t.Errorf("problem %+v holds the BSN or IBAN", p)
		}
	}
	p := testParser()
	p.fetch = func(context.Context, string, string) ([]byte, string, error) {
		return nil, "", fmt.Errorf("status 503")
	}
	withURL := strings.Replace(string(raw), "/weg", "/"+bsn+"/"+iban, 1)
	_, err = p.Parse(context.Background(), gesprekItem([]byte(withURL), testVendor))
	if err == nil || ingest.IsPermanent(err) || strings.Contains(err.Error(), bsn) || strings.Contains(err.Error(), iban) {
		t.Errorf("Parse(download fails) = %v, want a temporary error without the BSN or IBAN", err)
	}
}
