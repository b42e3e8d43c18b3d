package mail_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// FuzzParse checks that any input either fails with a permanent error or becomes a
// registration that Open Klant accepts, within the parser's time bound.
//
//	go test ./channels/mail -run '^$' -fuzz '^FuzzParse$' -fuzztime 10m -fuzzminimizetime 50x
func FuzzParse(f *testing.F) {
	for _, pat := range []string{"testdata/*.eml", "testdata/*.msg", "testdata/notmail/*"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	p := mail.NewParser(&mail.Options{MaxBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := p.ParseBytes(raw, time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
		if err != nil {
			if !ingest.IsPermanent(err) {
				t.Fatalf("ParseBytes error %v is not permanent", err)
			}
			return
		}
		defer in.Cleanup()
		if in.Original.Size != int64(len(raw)) {
			t.Fatalf("original size %d, want %d", in.Original.Size, len(raw))
		}
		m, err := ingest.Map(in, testOptions())
		if err != nil {
			t.Fatalf("Map = %v", err)
		}
		if err := ingesttest.ValidateRegistration(&m.Registration); err != nil {
			t.Fatalf("registration does not conform: %v", err)
		}
	})
}
