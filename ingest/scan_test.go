package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// fakeScanner finds "EICAR" anywhere; err, when set, is returned for every scan.
type fakeScanner struct {
	mu    sync.Mutex
	err   error
	scans int
}

func (s *fakeScanner) Scan(ctx context.Context, r io.Reader) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans++
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	if s.err != nil {
		return "", s.err
	}
	if bytes.Contains(b, []byte("EICAR")) {
		return "Eicar-Test-Signature", nil
	}
	return "", nil
}

// scanObserver counts infected items.
type scanObserver struct {
	mu       sync.Mutex
	infected map[string]int
}

func (o *scanObserver) ItemDone(string, string, string, string, time.Duration) {}
func (o *scanObserver) SourceUp(string, bool)                                  {}
func (o *scanObserver) Infected(channel string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.infected == nil {
		o.infected = map[string]int{}
	}
	o.infected[channel]++
}

// fixedParser returns a copy of its intake for every item.
type fixedParser struct{ in ingest.Intake }

func (p fixedParser) Parse(context.Context, *ingest.Item) (*ingest.Intake, error) {
	in := p.in
	in.Attachments = append([]ingest.Content(nil), p.in.Attachments...)
	in.Notes = append([]string(nil), p.in.Notes...)
	in.Signals = append([]string(nil), p.in.Signals...)
	return &in, nil
}

const eicarLine = "EICAR-test"

// mailWith is a mail intake whose original holds its attachments, as an .eml does.
func mailWith(attachments ...ingest.Content) ingest.Intake {
	raw := "From: jan@example.nl\r\nSubject: Vraag over mijn aanslag\r\n\r\nGeachte heer, mevrouw,\r\n"
	for _, a := range attachments {
		rc, _ := a.Open(context.Background())
		b, _ := io.ReadAll(rc)
		raw += "\r\n--part\r\n" + string(b)
	}
	return ingest.Intake{
		Channel: "email", Identity: "virus-test-1", Subject: "Vraag over mijn aanslag", Text: "Geachte heer, mevrouw, zie de bijlagen.",
		Sender:     ingest.Sender{Name: "Jan de Vries", Address: "jan@example.nl"},
		ReceivedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Original: ingest.BytesContent("bericht.eml", "message/rfc822", []byte(raw)),
		Attachments: attachments,
	}
}

type scanRig struct {
	blobs *memBlobs
	bus   *memBus
	obs   *scanObserver
	scan  *fakeScanner
	logs  *bytes.Buffer
	p     *ingest.Pipeline
}

func newScanRig(opts *ingest.MapOptions) *scanRig {
	r := &scanRig{blobs: &memBlobs{}, bus: &memBus{}, obs: &scanObserver{}, scan: &fakeScanner{}, logs: &bytes.Buffer{}}
	r.p = &ingest.Pipeline{Blobs: r.blobs, Publisher: r.bus, Mapping: opts, Observer: r.obs, Scanner: r.scan,
		Quarantine: &ingest.Quarantine{Blobs: r.blobs, Prefix: "quarantaine"},
		Logger:     slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	return r
}

func (r *scanRig) handle(t *testing.T, in ingest.Intake) (*ingest.Registration, error) {
	t.Helper()
	_, err := r.p.Handle(context.Background(), fixedParser{in}, textItem("INBOX/1/7", "raw"))
	if err != nil {
		return nil, err
	}
	kcs := r.bus.topic("klantcontacten")
	var reg ingest.Registration
	if err := json.Unmarshal(kcs[len(kcs)-1].Value, &reg); err != nil {
		t.Fatal(err)
	}
	return &reg, nil
}

// validate checks the registration against Open Klant and every event against its schema.
func (r *scanRig) validate(t *testing.T, reg *ingest.Registration) {
	t.Helper()
	if err := ingesttest.ValidateRegistration(reg); err != nil {
		t.Error(err)
	}
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.bus.msgs {
		if err := ev.Validate(m); err != nil {
			t.Errorf("%s event: %v", m.Topic, err)
		}
	}
}

func soorten(reg *ingest.Registration) map[string]int {
	out := map[string]int{}
	for _, io := range reg.Informatieobjecten {
		out[io.Soort]++
	}
	return out
}

func TestInfectedAttachmentIsWithheldAndTheOriginalQuarantined(t *testing.T) {
	r := newScanRig(kccOptions())
	clean := ingest.BytesContent("brief.pdf", "application/pdf", []byte("%PDF-1.4 schone brief"))
	bad := ingest.BytesContent("factuur-jan.com", "application/octet-stream", []byte(eicarLine))
	reg, err := r.handle(t, mailWith(clean, bad))
	if err != nil {
		t.Fatal(err)
	}
	r.validate(t, reg)
	kc := reg.Klantcontact.UUID
	if s := soorten(reg); s["origineel"] != 0 || s["bijlage"] != 1 || s["volledige_tekst"] != 1 || len(reg.Bijlagen) != 2 {
		t.Errorf("informatieobjecten %v with %d bijlagen; want the clean attachment and the full text only", s, len(reg.Bijlagen))
	}
	for _, io := range reg.Informatieobjecten {
		if io.Soort == "bijlage" && io.Bestandsnaam != "brief.pdf" {
			t.Errorf("stored attachment %q, want brief.pdf", io.Bestandsnaam)
		}
	}
	for key, b := range r.blobs.objects {
		if bytes.Contains(b, []byte("EICAR")) && !strings.HasPrefix(key, "quarantaine/"+kc+"/") {
			t.Errorf("infected content stored outside the quarantine at %s", key)
		}
	}
	r.checkQuarantine(t, kc)
	if len(reg.InterneTaken) != 1 {
		t.Fatalf("%d interne taken, want 1", len(reg.InterneTaken))
	}
	note := reg.InterneTaken[0].Toelichting
	for _, want := range []string{"Virus gevonden", `bijlage "factuur-jan.com"`, "Eicar-Test-Signature", "quarantaine", kc} {
		if !strings.Contains(note, want) {
			t.Errorf("toelichting lacks %q:\n%s", want, note)
		}
	}
	if r.obs.infected["email"] != 1 {
		t.Errorf("infected = %v, want email: 1", r.obs.infected)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"signature":"Eicar-Test-Signature"`) || !strings.Contains(logs, `"source_id":"`+ingest.RefHash("INBOX/1/7")+`"`) {
		t.Errorf("no warning with source_id and signature:\n%s", logs)
	}
	for _, secret := range []string{"factuur-jan", "aanslag", "jan@example.nl"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}

	// A retry (say, after a Kafka outage) overwrites the same keys and is counted once.
	before := len(r.blobs.objects)
	reg2, err := r.handle(t, mailWith(clean, bad))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.blobs.objects) != before || reg2.Klantcontact.UUID != kc || r.obs.infected["email"] != 1 || strings.Count(r.logs.String(), "virus found") != 1 {
		t.Errorf("retry: %d objects (was %d), infected %v, %d warnings", len(r.blobs.objects), before, r.obs.infected, strings.Count(r.logs.String(), "virus found"))
	}
}

// checkQuarantine checks the quarantine of TestInfectedAttachmentIsWithheldAndTheOriginalQuarantined.
func (r *scanRig) checkQuarantine(t *testing.T, kc string) {
	t.Helper()
	for _, part := range []string{"origineel", "bijlage-2", "manifest.json"} {
		if _, ok := r.blobs.objects[ingest.QuarantineKey("quarantaine", kc, part)]; !ok {
			t.Errorf("quarantine lacks %s", part)
		}
	}
	if _, ok := r.blobs.objects[ingest.QuarantineKey("quarantaine", kc, "bijlage-1")]; ok {
		t.Error("the clean attachment is in the quarantine")
	}
	var man struct {
		Klantcontact, SourceID string
		Objects                []struct{ Part, Signature, Filename string }
	}
	if err := json.Unmarshal(r.blobs.objects[ingest.QuarantineKey("quarantaine", kc, "manifest.json")], &man); err != nil {
		t.Fatal(err)
	}
	if man.Klantcontact != kc || man.SourceID != "INBOX/1/7" || len(man.Objects) != 2 || man.Objects[1].Part != "bijlage-2" ||
		man.Objects[1].Signature != "Eicar-Test-Signature" || man.Objects[1].Filename != "factuur-jan.com" {
		t.Errorf("manifest = %+v", man)
	}
}

func TestCleanItemIsRegisteredAsWithoutScanning(t *testing.T) {
	att := ingest.BytesContent("brief.pdf", "application/pdf", []byte("%PDF-1.4 schone brief"))
	r := newScanRig(kccOptions())
	if _, err := r.handle(t, mailWith(att)); err != nil {
		t.Fatal(err)
	}
	plain := &memBus{}
	p := &ingest.Pipeline{Blobs: &memBlobs{}, Publisher: plain, Mapping: kccOptions()}
	if _, err := p.Handle(context.Background(), fixedParser{mailWith(att)}, textItem("INBOX/1/7", "raw")); err != nil {
		t.Fatal(err)
	}
	if len(plain.msgs) != len(r.bus.msgs) {
		t.Fatalf("%d events with scanning, %d without", len(r.bus.msgs), len(plain.msgs))
	}
	for i := range plain.msgs {
		if !bytes.Equal(plain.msgs[i].Value, r.bus.msgs[i].Value) {
			t.Errorf("event %d differs with scanning:\n%s\n%s", i, r.bus.msgs[i].Value, plain.msgs[i].Value)
		}
	}
	if r.scan.scans != 2 || len(r.obs.infected) != 0 || r.logs.Len() != 0 {
		t.Errorf("%d scans (want the original and the attachment), infected %v, logs %q", r.scan.scans, r.obs.infected, r.logs)
	}
}

func TestScannerFailureStoresNothing(t *testing.T) {
	r := newScanRig(kccOptions())
	r.scan.err = errors.New("clamd: connecting: connection refused")
	_, err := r.handle(t, mailWith(ingest.BytesContent("brief.pdf", "application/pdf", []byte("%PDF"))))
	if err == nil || ingest.IsPermanent(err) {
		t.Fatalf("err = %v, want a temporary error", err)
	}
	if len(r.blobs.objects) != 0 || len(r.bus.msgs) != 0 {
		t.Errorf("stored %d objects and published %d events while the scanner was down", len(r.blobs.objects), len(r.bus.msgs))
	}
	r.scan.err = ingest.Permanent(ingest.ReasonTooLarge, errors.New("clamd: the content is longer than clamd's StreamMaxLength"))
	if _, err := r.handle(t, mailWith()); ingest.ReasonOf(err) != ingest.ReasonTooLarge {
		t.Errorf("err = %v, want permanent too_large", err)
	}
}

func TestInfectedOriginalWithoutAttachments(t *testing.T) {
	r := newScanRig(kccOptions())
	in := mailWith()
	in.Text = ""
	in.Original = ingest.BytesContent("bericht.eml", "message/rfc822", []byte("Subject: x\r\n\r\n"+eicarLine))
	reg, err := r.handle(t, in)
	if err != nil {
		t.Fatal(err)
	}
	r.validate(t, reg)
	if s := soorten(reg); s["origineel"] != 0 || s["volledige_tekst"] != 1 {
		t.Errorf("informatieobjecten %v, want only the full text", s)
	}
	if note := reg.InterneTaken[0].Toelichting; !strings.Contains(note, "in het originele bestand (Eicar-Test-Signature)") {
		t.Errorf("toelichting: %s", note)
	}
}

func TestVirusNoteAlwaysReachesATask(t *testing.T) {
	bad := ingest.BytesContent("x.com", "application/octet-stream", []byte(eicarLine))
	kcc := ingest.ActorSpec{Naam: "KCC", SoortActor: "organisatorische_eenheid"}
	security := ingest.ActorSpec{Naam: "Informatiebeveiliging", SoortActor: "organisatorische_eenheid"}
	for name, opts := range map[string]*ingest.MapOptions{
		// An auto-reply rule registers without a task; the note still needs one.
		"rule without tasks": {Router: &ingest.Router{Rules: []ingest.Rule{{Name: "auto", Signals: []string{"auto-reply"}}},
			Default: []ingest.TaskSpec{ingest.C1199Task(kcc)}}},
		"no router":  {Eenheden: map[string]ingest.ActorSpec{"kcc": kcc}},
		"no eenheid": {},
		// A rule on the virus signal chooses its own task.
		"virus rule": {Router: &ingest.Router{Rules: []ingest.Rule{{Name: "virus", Signals: []string{ingest.SignalVirus},
			Tasks: []ingest.TaskSpec{{GevraagdeHandeling: "Beoordelen", Actors: []ingest.ActorSpec{security}}}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newScanRig(opts)
			in := mailWith(bad)
			in.Signals = []string{"auto-reply"}
			reg, err := r.handle(t, in)
			if err != nil {
				t.Fatal(err)
			}
			r.validate(t, reg)
			if len(reg.InterneTaken) != 1 || !strings.Contains(reg.InterneTaken[0].Toelichting, "Virus gevonden") {
				t.Fatalf("interne taken %+v, want one with the note", reg.InterneTaken)
			}
			if name == "virus rule" && reg.InterneTaken[0].GevraagdeHandeling != "Beoordelen" {
				t.Errorf("the virus rule's task was not chosen: %+v", reg.InterneTaken[0])
			}
		})
	}
}

func TestInfectedDeliveryIsWithheld(t *testing.T) {
	r := newScanRig(kccOptions())
	in := mailWith()
	in.Channel, in.Identity = "brief", "scanstraat\x1fSCAN-1"
	d := ingest.BytesContent("SCAN-1.json", "application/json", []byte(`{"x":"`+eicarLine+`"}`))
	in.Delivery = &d
	reg, err := r.handle(t, in)
	if err != nil {
		t.Fatal(err)
	}
	r.validate(t, reg)
	if s := soorten(reg); s["aanlevering"] != 0 || s["origineel"] != 0 {
		t.Errorf("informatieobjecten %v, want neither the delivery nor the original", s)
	}
	if _, ok := r.blobs.objects[ingest.QuarantineKey("quarantaine", reg.Klantcontact.UUID, "aanlevering")]; !ok {
		t.Error("the infected delivery metadata is not in the quarantine")
	}
	if r.obs.infected["brief"] != 1 {
		t.Errorf("infected = %v", r.obs.infected)
	}
}
