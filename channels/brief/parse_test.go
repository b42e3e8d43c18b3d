package brief

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// received is the fixed receipt time of every test letter.
var received = time.Date(2024, 3, 20, 12, 0, 0, 0, time.UTC)

const testVendor = "scanstraat"

// letterItem is the item the drop-zone source makes of a sidecar and its scan in dir.
func letterItem(t testing.TB, dir, sidecar string) *ingest.Item {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, sidecar))
	if err != nil {
		t.Fatal(err)
	}
	it := &ingest.Item{
		Ref: testVendor + "/" + sidecar, Size: int64(len(raw)), ReceivedAt: received, Vendor: testVendor,
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
	}
	if b, _ := readBestand(bytes.NewReader(raw)); b != "" {
		p := filepath.Join(dir, b)
		if info, err := os.Stat(p); err == nil {
			it.Size += info.Size()
			it.Files = []ingest.ItemFile{{Name: b, Size: info.Size(), Open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }}}
		}
	}
	return it
}

func testMapOptions() *ingest.MapOptions {
	kcc := ingest.ActorSpec{Naam: "KCC", SoortActor: "organisatorische_eenheid", Omschrijving: "Klant Contact Centrum"}
	bezwaar := ingest.ActorSpec{Naam: "Bezwaar en beroep", SoortActor: "organisatorische_eenheid"}
	return &ingest.MapOptions{
		Taal:     "nld",
		Channels: map[string]ingest.ChannelDefaults{Channel: Descriptor.Defaults},
		Worker:   ingest.ActorSpec{Naam: "Instroom", SoortActor: "geautomatiseerde_actor", Functie: "Registreren inkomende berichten"},
		Eenheden: map[string]ingest.ActorSpec{"kcc": kcc, "bezwaar": bezwaar},
		Router: &ingest.Router{Rules: []ingest.Rule{{
			Name: "bezwaarschriften", Channels: []string{Channel}, Signals: []string{"documenttype:bezwaarschrift"},
			Tasks: []ingest.TaskSpec{{GevraagdeHandeling: "Bezwaar registreren", EenheidKeys: []string{"bezwaar"}}},
		}}},
		Bronorganisatie: "002220647",
		Zaak: ingest.ZaakOptions{Uppercase: true, Patterns: []*regexp.Regexp{
			regexp.MustCompile(`(?i)\bzaak-[0-9]{4}-[0-9]{4,10}\b`),
		}},
	}
}

// fixedText stands in for OCR in golden tests: testdata/<case>.ocr.txt, or nothing found.
func fixedText(name string) func(context.Context, string, string) (string, int, []string, error) {
	return func(context.Context, string, string) (string, int, []string, error) {
		b, err := os.ReadFile(filepath.Join("testdata", name+".ocr.txt"))
		if err != nil {
			return "", 1, []string{"Op de scan is geen tekst herkend."}, nil
		}
		return string(b), 1, nil, nil
	}
}

// golden is what a golden file holds: the registration and its internetaken events.
type golden struct {
	Registration *ingest.Registration      `json:"registration"`
	Internetaken []ingest.InternetaakEvent `json:"internetaken"`
}

func sidecarCases(t *testing.T) []string {
	files, _ := filepath.Glob("testdata/*.json")
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			out = append(out, f)
		}
	}
	if len(out) < 6 {
		t.Fatalf("want at least 6 test letters, found %d", len(out))
	}
	return out
}

func TestGolden(t *testing.T) {
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sidecarCases(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := NewParser(&Options{SpoolDir: t.TempDir()})
			p.extract = fixedText(name)
			in, err := p.Parse(ctx, letterItem(t, "testdata", filepath.Base(f)))
			if err != nil {
				t.Fatalf("Parse(%s) = %v", name, err)
			}
			defer in.Cleanup()
			m, err := ingest.Map(in, testMapOptions())
			if err != nil {
				t.Fatalf("Map(%s) = %v", name, err)
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
		t.Errorf("registration of %s differs from %s (run go test ./channels/brief -run TestGolden -update and review the diff):\n%s", name, gf, got)
	}
}

// TestContractIDs checks the klantcontact uuids of contracts/intake-api.md §10.
func TestContractIDs(t *testing.T) {
	for file, want := range map[string]string{
		"brief-c2138.json":        "7d4a06c7-6e65-5171-8f09-f8ef160ad9db",
		"brief-bezwaar-zaak.json": "19c6aed7-cc51-5bcb-b4ae-b4e90b59f54e",
	} {
		p := NewParser(&Options{SpoolDir: t.TempDir()})
		p.extract = fixedText("")
		in, err := p.Parse(context.Background(), letterItem(t, "testdata", file))
		if err != nil {
			t.Fatalf("Parse(%s) = %v", file, err)
		}
		in.Cleanup()
		if got := ingest.KlantcontactID(in.Channel, in.Identity); got != want {
			t.Errorf("KlantcontactID(%s from %s) = %s, want %s", file, testVendor, got, want)
		}
	}
}

// TestParseBadInput checks that each kind of bad letter fails for good with its reason,
// and leaves no spool file behind.
func TestParseBadInput(t *testing.T) {
	pdf, _ := os.ReadFile("testdata/SCAN-20240312-000123.pdf")
	ok := `{"scanId":"S1","gescandOp":"2024-03-12T09:41:17Z","bestand":"S1.pdf"}`
	cases := []struct {
		name, sidecar string
		scan          []byte // nil: no scan file
		vendor        string
		reason        string // "": temporary
	}{
		{"not JSON", `{"scanId":`, pdf, testVendor, ingest.ReasonUnparseable},
		{"not UTF-8", "{\"scanId\":\"S\xff\"}", pdf, testVendor, ingest.ReasonUnparseable},
		{"schema", `{"scanId":"S1","bestand":"S1.pdf","kleur":"rood"}`, pdf, testVendor, ingest.ReasonInvalid},
		{"zero-byte scan", ok, []byte{}, testVendor, ReasonUnsupportedFormat},
		{"not a scan", ok, []byte("<html>geen scan</html>"), testVendor, ReasonUnsupportedFormat},
		{"no vendor", ok, pdf, "", ingest.ReasonInvalid},
		{"scan not paired", ok, nil, testVendor, ""},
		{"too large sidecar", `{"ocrTekst":"` + strings.Repeat("x", maxSidecarBytes) + `"}`, pdf, testVendor, ingest.ReasonTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "S1.json"), []byte(tc.sidecar), 0o600)
			if tc.scan != nil {
				os.WriteFile(filepath.Join(dir, "S1.pdf"), tc.scan, 0o600)
			}
			spool := t.TempDir()
			p := NewParser(&Options{SpoolDir: spool})
			p.extract = fixedText("")
			it := letterItem(t, dir, "S1.json")
			it.Vendor = tc.vendor
			if tc.scan != nil && it.Files == nil { // the source pairs by bestand; this sidecar names none
				it.Files = []ingest.ItemFile{{Name: "S1.pdf", Open: func(context.Context) (io.ReadCloser, error) { return os.Open(filepath.Join(dir, "S1.pdf")) }}}
			}
			in, err := p.Parse(context.Background(), it)
			if err == nil {
				in.Cleanup()
				t.Fatalf("Parse(%s) = nil error, want reason %q", tc.name, tc.reason)
			}
			if got := ingest.ReasonOf(err); got != tc.reason {
				t.Errorf("ReasonOf(Parse(%s)) = %q (%v), want %q", tc.name, got, err, tc.reason)
			}
			if left, _ := filepath.Glob(filepath.Join(spool, "*")); len(left) > 0 {
				t.Errorf("Parse(%s) left %d spool files", tc.name, len(left))
			}
		})
	}
}

func TestParseScanTooLarge(t *testing.T) {
	p := NewParser(&Options{SpoolDir: t.TempDir(), MaxBytes: 100})
	p.extract = fixedText("")
	_, err := p.Parse(context.Background(), letterItem(t, "testdata", "brief-c2138.json"))
	if got := ingest.ReasonOf(err); got != ingest.ReasonTooLarge {
		t.Errorf("ReasonOf(Parse(scan over MaxBytes)) = %q, want too_large", got)
	}
}

// TestParseExtractFailure: an OCR failure still registers the letter, with a note; a
// cancelled ctx is temporary.
func TestParseExtractFailure(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "S1.json"), []byte(`{"scanId":"S1","gescandOp":"2024-03-12T09:41:17Z","bestand":"S1.png"}`), 0o600)
	png, _ := os.ReadFile("testdata/brief-03-minimaal.png")
	os.WriteFile(filepath.Join(dir, "S1.png"), png, 0o600)
	spool := t.TempDir()
	p := NewParser(&Options{SpoolDir: spool})
	p.extract = func(context.Context, string, string) (string, int, []string, error) {
		return "", 0, nil, errors.New("tesseract exploded")
	}
	in, err := p.Parse(context.Background(), letterItem(t, dir, "S1.json"))
	if err != nil {
		t.Fatalf("Parse(OCR fails) = %v, want a registration with a note", err)
	}
	if len(in.Notes) != 1 || in.Text != "" || in.Subject != "Ontvangen brief" {
		t.Errorf("Parse(OCR fails) = notes %q, text %q, subject %q", in.Notes, in.Text, in.Subject)
	}
	in.Cleanup()
	if left, _ := filepath.Glob(filepath.Join(spool, "*")); len(left) > 0 {
		t.Errorf("Cleanup left %d spool files", len(left))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.extract = func(ctx context.Context, _, _ string) (string, int, []string, error) { return "", 0, nil, ctx.Err() }
	if _, err := p.Parse(ctx, letterItem(t, dir, "S1.json")); err == nil || ingest.IsPermanent(err) {
		t.Errorf("Parse(cancelled) = %v, want a temporary error", err)
	}
}

// TestParseOCR runs a letter through the real text extraction: a generated Dutch letter as
// a 300 dpi PNG, without ocrTekst, so its text and "Betreft:" subject come from tesseract.
func TestParseOCR(t *testing.T) {
	needOCRTools(t)
	dir := t.TempDir()
	l := testLetters[0]
	os.WriteFile(filepath.Join(dir, "scan-1.png"), encodePNG(t, renderLetter(t, l), 300), 0o600)
	os.WriteFile(filepath.Join(dir, "scan-1.json"), []byte(`{"scanId":"scan-1","gescandOp":"2025-03-14T10:00:00+01:00","bestand":"scan-1.png"}`), 0o600)
	p := NewParser(&Options{SpoolDir: t.TempDir()})
	in, err := p.Parse(context.Background(), letterItem(t, dir, "scan-1.json"))
	if err != nil {
		t.Fatalf("Parse(OCR letter) = %v", err)
	}
	defer in.Cleanup()
	if acc := wordAccuracy(l.text(), in.Text); acc < 0.95 {
		t.Errorf("word accuracy of the parsed text = %.3f, want at least 0.95", acc)
	}
	if !strings.EqualFold(in.Subject, l.subject) {
		t.Errorf("Parse(OCR letter).Subject = %q, want the Betreft line %q", in.Subject, l.subject)
	}
	if in.Original.ContentType != "image/png" || in.Original.Filename != "scan-1.png" {
		t.Errorf("Original = %s %s, want image/png scan-1.png", in.Original.ContentType, in.Original.Filename)
	}
}

func TestOnderwerp(t *testing.T) {
	cases := []struct {
		sc   Sidecar
		text string
		want string
	}{
		{Sidecar{Onderwerp: "Gegeven"}, "Betreft: tekst", "Gegeven"},
		{Sidecar{}, "Aan de gemeente\n  betreft :  Kapotte   lantaarn \nGeachte", "Kapotte lantaarn"},
		{Sidecar{}, "Onderwerp:\n\n  Op de volgende regel\n", "Op de volgende regel"},
		{Sidecar{}, "Ik betreft: geen kopregel", "Ontvangen brief"},
		{Sidecar{Documenttype: "bezwaarschrift"}, "", "Ontvangen bezwaarschrift"},
		{Sidecar{}, "Betreft: " + strings.Repeat("é", 300), strings.Repeat("é", 200)},
	}
	for _, tc := range cases {
		if got := onderwerp(&tc.sc, tc.text); got != tc.want {
			t.Errorf("onderwerp(%+v, %q) = %q, want %q", tc.sc, tc.text, got, tc.want)
		}
	}
}

func TestAdres(t *testing.T) {
	n := 5
	cases := []struct {
		in   Correspondentieadres
		want ingest.Adres
	}{
		{Correspondentieadres{Postcode: "1234ab", Woonplaats: "Stad", Huisnummer: &n}, ingest.Adres{Postcode: "1234 AB", Stad: "Stad", Huisnummer: &n, Land: "NL"}},
		{Correspondentieadres{Postcode: " 1234 AB "}, ingest.Adres{Postcode: "1234 AB", Land: "NL"}},
		{Correspondentieadres{Postcode: "0123 AB", Woonplaats: "Stad"}, ingest.Adres{Stad: "0123 AB Stad", Land: "NL"}},
		{Correspondentieadres{Postcode: "1000", Woonplaats: "Bruxelles", Land: "BE"}, ingest.Adres{Stad: "1000 Bruxelles", Land: "BE"}},
		{Correspondentieadres{Postcode: "1234 AB", Woonplaats: "Aachen", Land: "DE"}, ingest.Adres{Stad: "1234 AB Aachen", Land: "DE"}},
		{Correspondentieadres{Straat: "Laan", Adresregel1: "r1", Adresregel2: "r2", Adresregel3: "r3", Huisnummertoevoeging: "bis"},
			ingest.Adres{Straatnaam: "Laan", Adresregel1: "r1", Adresregel2: "r2", Adresregel3: "r3", Huisnummertoevoging: "bis", Land: "NL"}},
	}
	for _, tc := range cases {
		got := adres(&tc.in)
		if got.Postcode != tc.want.Postcode || got.Stad != tc.want.Stad || got.Land != tc.want.Land || got.Straatnaam != tc.want.Straatnaam ||
			got.Adresregel1 != tc.want.Adresregel1 || got.Adresregel3 != tc.want.Adresregel3 || got.Huisnummertoevoging != tc.want.Huisnummertoevoging ||
			(got.Huisnummer == nil) != (tc.want.Huisnummer == nil) {
			t.Errorf("adres(%+v) = %+v, want %+v", tc.in, *got, tc.want)
		}
	}
}

func TestScannedAt(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
	}{
		{"2024-03-12T09:41:17+01:00", time.Date(2024, 3, 12, 8, 41, 17, 0, time.UTC)},
		{"2024-03-21T11:59:59Z", time.Date(2024, 3, 21, 11, 59, 59, 0, time.UTC)},  // within a day of receipt
		{"2024-03-21T12:00:01Z", time.Time{}},                                      // over a day ahead: receipt time
		{"2016-12-31T23:59:60Z", time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC)}, // leap second
	}
	for _, tc := range cases {
		if got := scannedAt(tc.in, received); !got.Equal(tc.want) {
			t.Errorf("scannedAt(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
