package brief_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/brief"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
	"github.com/instroom/instroom/storage/dropzone"
)

func decoderOf[T any](val T) ingest.Decoder {
	return func(v any) error {
		p, ok := v.(*T)
		if !ok {
			return fmt.Errorf("decoder for %T got %T", val, v)
		}
		*p = val
		return nil
	}
}

func TestDescriptor(t *testing.T) {
	if brief.Descriptor.Name != "brief" || brief.Descriptor.Defaults.Kanaal != "Brief" ||
		brief.Descriptor.Defaults.AdresOmschrijving != "Afzender van ontvangen brief" ||
		!brief.Descriptor.SupportsType("dir") || !brief.Descriptor.SupportsType("s3") || brief.Descriptor.SupportsType("imap") {
		t.Errorf("Descriptor = %+v", brief.Descriptor)
	}
	if _, err := brief.Descriptor.Setup(ingest.Env{}, decoderOf(brief.ChannelSettings{OCR: brief.OCRSettings{MaxPages: -1}})); err == nil ||
		!strings.Contains(err.Error(), "channels.brief.ocr.max_pages") {
		t.Errorf("Setup(max_pages -1) = %v, want an error naming channels.brief.ocr.max_pages", err)
	}
}

func TestSources(t *testing.T) {
	root := t.TempDir()
	vendors := []ingest.Vendor{{Key: "scanstraat", Channels: []string{"brief"}}, {Key: "chatleverancier", Channels: []string{"chat"}}}
	env := ingest.Env{DataDir: t.TempDir(), Vendors: vendors, Once: true}
	var opened []string
	sc := ingest.SourceConfig{
		Name: "brieven", At: "sources[0]", Type: "dir", Path: root,
		Settings: decoderOf(brief.SourceSettings{PairTimeout: time.Hour}),
		DropZone: func(ctx context.Context, sub string) (ingest.DropZone, error) {
			opened = append(opened, sub)
			d, err := dropzone.NewDir(root, &dropzone.DirOptions{MinAge: -1})
			if err != nil {
				return nil, err
			}
			return d.Sub(sub)
		},
	}
	rt, err := brief.Descriptor.Setup(env, decoderOf(brief.ChannelSettings{}))
	if err != nil {
		t.Fatal(err)
	}
	// check-config opens nothing.
	check := env
	check.CheckOnly = true
	rtc, _ := brief.Descriptor.Setup(check, decoderOf(brief.ChannelSettings{}))
	if ss, err := rtc.Sources(context.Background(), sc); err != nil || ss != nil || opened != nil {
		t.Fatalf("Sources(check only) = %v, %v, opened %v; want nothing opened", ss, err, opened)
	}
	ss, err := rt.Sources(context.Background(), sc)
	if err != nil || len(ss) != 1 {
		t.Fatalf("Sources() = %v, %v", ss, err)
	}
	if strings.Join(opened, ",") != "scanstraat" {
		t.Errorf("Sources opened the folders %v, want only scanstraat's", opened)
	}
	// A letter in the vendor's folder is read and parsed.
	pdf, _ := os.ReadFile("testdata/SCAN-20240312-000123.pdf")
	side, _ := os.ReadFile("testdata/brief-c2138.json")
	os.WriteFile(filepath.Join(root, "scanstraat", "SCAN-20240312-000123.pdf"), pdf, 0o600)
	os.WriteFile(filepath.Join(root, "scanstraat", "SCAN-20240312-000123.json"), side, 0o600)
	it, ack, err := ss[0].Source.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	in, err := rt.Parser().Parse(context.Background(), it)
	if err != nil {
		t.Fatalf("Parse(letter from the drop zone) = %v", err)
	}
	in.Cleanup()
	if id := ingest.KlantcontactID(in.Channel, in.Identity); id != "7d4a06c7-6e65-5171-8f09-f8ef160ad9db" {
		t.Errorf("klantcontact of brief-c2138 from the drop zone = %s", id)
	}
	ack(context.Background(), nil)

	for _, tc := range []struct {
		name string
		sc   ingest.SourceConfig
		env  ingest.Env
		want string
	}{
		{"negative pair_timeout", withSettings(sc, brief.SourceSettings{PairTimeout: -time.Second}), env, "sources[0].pair_timeout"},
		{"no vendor on brief", sc, ingest.Env{Vendors: vendors[1:]}, "no vendor"},
	} {
		rt, _ := brief.Descriptor.Setup(tc.env, decoderOf(brief.ChannelSettings{}))
		if _, err := rt.Sources(context.Background(), tc.sc); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Sources(%s) = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func withSettings(sc ingest.SourceConfig, ss brief.SourceSettings) ingest.SourceConfig {
	sc.Settings = decoderOf(ss)
	return sc
}

// TestSourceS3 reads letters from a vendor's folder under an S3 prefix (versitygw): a
// pair, a permanent failure, a scan left behind by a crash, and halves that time out.
func TestSourceS3(t *testing.T) {
	srv := ingesttest.StartS3(t, nil)
	srv.CreateBucket(t, "instroom")
	root, err := dropzone.NewS3Zone(blob.S3Options{
		Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: "instroom", Prefix: "gemeente/brieven",
		PathStyle: true, Insecure: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	}, &dropzone.S3ZoneOptions{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	z, err := root.Sub("scanstraat")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(name, content string) {
		t.Helper()
		if err := z.Put(ctx, name, strings.NewReader(content), int64(len(content))); err != nil {
			t.Fatalf("Put(%s) = %v", name, err)
		}
	}
	place := func(name string) int {
		t.Helper()
		p, _, err := z.Locate(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, id := range []string{"S-1", "S-2", "S-3"} {
		put(id+".pdf", "%PDF-1.4 "+id)
		put(id+".json", sidecar(id, id+".pdf"))
	}
	if err := z.Done(ctx, "S-3.json"); err != nil { // the worker died before moving S-3.pdf
		t.Fatal(err)
	}
	put("S-4.json", sidecar("S-4", "S-4.pdf")) // its scan never comes
	put("S-5.png", "\x89PNG\r\n\x1a\n")        // no sidecar names it
	clk := &clock{now: time.Now()}
	s := brief.NewSource([]brief.VendorZone{{Vendor: "scanstraat", Zone: z}}, &brief.SourceOptions{
		Once: true, PairTimeout: time.Hour, PollInterval: time.Millisecond, Now: clk.Now,
	})
	acks := map[string]error{"scanstraat/S-1.json": nil, "scanstraat/S-2.json": ingest.Permanentf(ingest.ReasonInvalid, "schema")}
	for range 2 {
		it, ack := read(t, s)
		want, ok := acks[it.Ref]
		if !ok || len(it.Files) != 1 {
			t.Fatalf("Read() = %s with %d files", it.Ref, len(it.Files))
		}
		if err := ack(ctx, want); err != nil {
			t.Fatalf("ack(%s) = %v", it.Ref, err)
		}
		delete(acks, it.Ref)
	}
	wantEnd(t, s)
	for name, want := range map[string]int{
		"S-1.json": ingest.PlaceProcessed, "S-1.pdf": ingest.PlaceProcessed, "S-2.json": ingest.PlaceFailed, "S-2.pdf": ingest.PlaceFailed,
		"S-3.pdf": ingest.PlaceProcessed, "S-4.json": ingest.PlaceTop, "S-5.png": ingest.PlaceTop,
	} {
		if got := place(name); got != want {
			t.Errorf("Locate(%s) = %d, want %d", name, got, want)
		}
	}
	clk.Set(time.Now().Add(2 * time.Hour))
	for range 2 { // each half alone, refused; its ack moves it
		it, ack := read(t, s)
		if it.Refused == nil || (it.Ref != "scanstraat/S-4.json" && it.Ref != "scanstraat/S-5.png") {
			t.Fatalf("Read() = %s (refused: %v), want a half alone", it.Ref, it.Refused)
		}
		if err := ack(ctx, it.Refused); err != nil {
			t.Fatalf("ack(%s) = %v", it.Ref, err)
		}
	}
	wantEnd(t, s)
	for name, reason := range map[string]string{"S-4.json": brief.ReasonMissingScan, "S-5.png": brief.ReasonMissingSidecar} {
		p, r, err := z.Locate(ctx, name)
		if err != nil || p != ingest.PlaceFailed || r != reason {
			t.Errorf("Locate(%s) = %d, %q, %v; want failed with %s", name, p, r, err, reason)
		}
	}
}
