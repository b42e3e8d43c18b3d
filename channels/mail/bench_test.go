package mail_test

import (
	"os"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
)

// BenchmarkParseMap measures the CPU cost of turning one mail (a 1.4 KB mail with a PDF,
// a JPEG and an inline PNG) into a registration and its events.
func BenchmarkParseMap(b *testing.B) {
	raw, err := os.ReadFile("testdata/14-attachments-inline.eml")
	if err != nil {
		b.Fatal(err)
	}
	p := mail.NewParser(nil)
	opts := testOptions()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		in, err := p.ParseBytes(raw, time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
		if err != nil {
			b.Fatal(err)
		}
		m, err := ingest.Map(in, opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ingest.Events(&m.Registration, "urn:instroom:bench", ingest.Topics{}); err != nil {
			b.Fatal(err)
		}
	}
}
