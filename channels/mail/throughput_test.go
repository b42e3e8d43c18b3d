package mail_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/jhillyerd/enmime/v2"

	"github.com/instroom/instroom/channels/mail"
)

// corpus is every test mail (the .eml files in testdata), for throughput benchmarks.
func corpus(b *testing.B) ([][]byte, int64) {
	files, _ := filepath.Glob("testdata/*.eml")
	var mails [][]byte
	var total int64
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		mails = append(mails, raw)
		total += int64(len(raw))
	}
	if len(mails) < 40 {
		b.Fatalf("corpus has %d mails", len(mails))
	}
	return mails, total
}

// runCorpus parses the whole corpus per iteration and reports mails/s next to MB/s.
func runCorpus(b *testing.B, parse func(raw []byte) error) {
	mails, total := corpus(b)
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range mails {
			if err := parse(raw); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(mails)*b.N)/b.Elapsed().Seconds(), "mails/s")
}

// BenchmarkCorpusInstroom: Instroom's parser on every test mail (text decoded, HTML
// rendered, every attachment decoded, hashed and spooled, repairs noted).
//
//	go test ./channels/mail -run '^$' -bench Corpus -benchtime 2s
func BenchmarkCorpusInstroom(b *testing.B) {
	p := mail.NewParser(nil)
	when := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	runCorpus(b, func(raw []byte) error {
		in, err := p.ParseBytes(raw, when)
		if err != nil {
			if strings.Contains(err.Error(), "not an e-mail") {
				return nil
			}
			return err
		}
		in.Cleanup()
		return nil
	})
}

// BenchmarkCorpusEnmime: enmime alone building its envelope of the same mails.
func BenchmarkCorpusEnmime(b *testing.B) {
	p := enmime.NewParser(enmime.SkipMalformedParts(true))
	runCorpus(b, func(raw []byte) error {
		_, _ = p.ReadEnvelope(bytes.NewReader(raw)) // errors are part of the work
		return nil
	})
}

// BenchmarkCorpusGoMessage: go-message alone reading every part of the same mails
// (transfer encoding decoded; charsets and repairs not).
func BenchmarkCorpusGoMessage(b *testing.B) {
	runCorpus(b, func(raw []byte) error {
		e, err := message.Read(bytes.NewReader(raw))
		if err != nil && e == nil {
			return nil
		}
		return walkEntity(e)
	})
}

func walkEntity(e *message.Entity) error {
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) || (err != nil && p == nil) {
				return nil
			}
			if err := walkEntity(p); err != nil {
				return err
			}
		}
	}
	_, _ = io.Copy(io.Discard, e.Body)
	return nil
}
