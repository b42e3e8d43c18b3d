package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// received is the fixed receipt time of every test mail.
var received = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func fileItem(path string) *ingest.Item {
	info, _ := os.Stat(path)
	size := int64(-1)
	if info != nil {
		size = info.Size()
	}
	return &ingest.Item{
		Ref: filepath.Base(path), Size: size, ReceivedAt: received,
		Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) },
	}
}

func testOptions() *ingest.MapOptions {
	kcc := ingest.ActorSpec{Naam: "KCC", SoortActor: "organisatorische_eenheid", Omschrijving: "Klant Contact Centrum"}
	o := &ingest.MapOptions{
		Taal:   "nld",
		Worker: ingest.ActorSpec{Naam: "Instroom", SoortActor: "geautomatiseerde_actor", Functie: "Registreren inkomende berichten"},
		Router: &ingest.Router{Rules: []ingest.Rule{
			{Name: "auto", Signals: []string{"auto-reply", "bounce"}},
			{Name: "email", Channels: []string{"email"}, Tasks: []ingest.TaskSpec{ingest.C1199Task(kcc)}},
		}},
		Bronorganisatie: "002220647",
		Zaak:            ingest.ZaakOptions{Uppercase: true},
		Location:        ingest.DefaultLocation(), // as the worker sets it
	}
	// The default patterns of mapping.zaak, added as the worker adds them.
	for _, p := range []string{`(?i)\bzaak-[0-9]{4}-[0-9]{4,10}\b`, `(?i)\bz-[0-9]{4}-[0-9]{4,10}\b`} {
		if err := o.Zaak.AddPattern(p); err != nil {
			panic(err)
		}
	}
	return o
}

// golden is what a golden file holds: the registration and its internetaken events.
type golden struct {
	Registration *ingest.Registration      `json:"registration"`
	Internetaken []ingest.InternetaakEvent `json:"internetaken"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	msgs, _ := filepath.Glob("testdata/*.msg")
	files = append(files, msgs...)
	if err != nil || len(files) < 15 {
		t.Fatalf("want at least 15 test mails, found %d (%v)", len(files), err)
	}
	ev, err := ingesttest.NewEventValidator()
	if err != nil {
		t.Fatal(err)
	}
	p := mail.NewParser(nil)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			in, err := p.Parse(ctx, fileItem(f))
			if err != nil {
				t.Fatalf("Parse(%s) = %v", name, err)
			}
			m, err := ingest.Map(in, testOptions())
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
				if msg.Key != reg.Klantcontact.UUID {
					t.Errorf("event key = %s, want klantcontact uuid %s", msg.Key, reg.Klantcontact.UUID)
				}
				if msg.Topic == "internetaken" {
					var e ingest.InternetaakEvent
					if err := json.Unmarshal(msg.Value, &e); err != nil {
						t.Fatal(err)
					}
					g.Internetaken = append(g.Internetaken, e)
				}
			}
			// Every object's size and hash match its content.
			for i, o := range m.Objects {
				rc, err := o.Content.Open(ctx)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				io := reg.Informatieobjecten[i]
				if int64(len(b)) != io.Bestandsomvang || ingest.BytesContent("", "", b).SHA256 != io.Integriteit.Waarde {
					t.Errorf("informatieobject %d: size/hash in event do not match content", i)
				}
			}
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
				t.Errorf("registration of %s differs from %s (run go test ./channels/mail -update and review the diff):\n%s", name, gf, got)
			}
		})
	}
}
