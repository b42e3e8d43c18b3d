package chat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
)

// memZone is a vendor folder in memory.
type memZone struct {
	name  string
	files map[string][]byte
}

func (z *memZone) List(ctx context.Context, fn func(string, int64, time.Time) error) error {
	for n, b := range z.files {
		if err := fn(n, int64(len(b)), time.Unix(0, 0)); err != nil {
			return err
		}
	}
	return nil
}
func (z *memZone) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(z.files[name])), nil
}
func (z *memZone) Done(ctx context.Context, name string) error { delete(z.files, name); return nil }
func (z *memZone) Fail(ctx context.Context, name, reason, detail string) error {
	delete(z.files, name)
	return nil
}
func (z *memZone) String() string { return z.name }

func TestSources(t *testing.T) {
	env := ingest.Env{Once: true, Vendors: []ingest.Vendor{
		{Key: "lev-a", Channels: []string{"chat"}, URLHosts: []string{"bijlagen.a.example"}},
		{Key: "scanstraat", Channels: []string{"brief"}},
		{Key: "lev-b", Channels: []string{"brief", "chat"}},
	}}
	rt, err := Descriptor.Setup(env, func(any) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	zones := map[string]*memZone{}
	sc := ingest.SourceConfig{Name: "gesprekken", At: "sources[1]", Type: "dir", Settings: func(any) error { return nil },
		DropZone: func(ctx context.Context, sub string) (ingest.DropZone, error) {
			z := &memZone{name: sub, files: map[string][]byte{"g-" + sub + ".json": []byte("{}")}}
			zones[sub] = z
			return z, nil
		}}
	srcs, err := rt.Sources(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].Suffix != "lev-a" || srcs[1].Suffix != "lev-b" {
		t.Fatalf("Sources = %+v, want one per chat vendor (lev-a, lev-b)", srcs)
	}
	for _, s := range srcs {
		it, ack, err := s.Source.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if it.Vendor != s.Suffix || !strings.Contains(it.Ref, s.Suffix) {
			t.Errorf("source %s yields item %s of vendor %q", s.Suffix, it.Ref, it.Vendor)
		}
		ack(context.Background(), nil)
	}
	if rt.(*chatRuntime).vendorZone("lev-b") != zones["lev-b"] {
		t.Error("vendorZone(lev-b) is not the zone of the source")
	}
	if got := rt.(*chatRuntime).parser.opts.URLHosts["lev-a"]; len(got) != 1 {
		t.Errorf("URLHosts[lev-a] = %v", got)
	}
	sc.Type = "imap"
	if _, err := rt.Sources(context.Background(), sc); err == nil {
		t.Error("Sources(type imap) = nil error")
	}
	rt2, _ := Descriptor.Setup(ingest.Env{}, func(any) error { return nil })
	sc.Type = "dir"
	if _, err := rt2.Sources(context.Background(), sc); err == nil {
		t.Error("Sources(no chat vendor) = nil error")
	}
}

func TestSettings(t *testing.T) {
	s := ChannelSettings{MappingHints: MappingHints{ByKanaal: map[string]string{" Signal ": "Signal", "chat": "Webchat"}}}
	if err := s.validate("channels.chat"); err != nil {
		t.Fatal(err)
	}
	s.defaults()
	if s.ByKanaal["signal"] != "Signal" || s.ByKanaal["chat"] != "Webchat" || s.ByKanaal["whatsapp"] != "WhatsApp" {
		t.Errorf("ByKanaal = %v", s.ByKanaal)
	}
	if s.Medewerker != (Codes{"mdw", "msei", "email"}) || s.Fetch.Timeout != defaultFetchTimeout {
		t.Errorf("defaults = %+v", s)
	}
	for _, bad := range []ChannelSettings{
		{MappingHints: MappingHints{ByKanaal: map[string]string{"x": ""}}},
		{MappingHints: MappingHints{ByKanaal: map[string]string{"x": strings.Repeat("k", 51)}}},
		{Fetch: FetchSettings{Timeout: -1}},
	} {
		if err := bad.validate("channels.chat"); err == nil {
			t.Errorf("validate(%+v) = nil error", bad)
		}
	}
	_, err := Descriptor.Setup(ingest.Env{}, func(any) error { return errors.New("unknown key") })
	if err == nil {
		t.Error("Setup(decode fails) = nil error")
	}
}
