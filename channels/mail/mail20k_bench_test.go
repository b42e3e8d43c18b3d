package mail_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// BenchmarkMail20K measures, on the ~20 KB mail of the chain and backlog benchmarks
// (ingesttest.BenchMail: 4 KB of quoted-printable Dutch text and a 14 KB base64
// attachment), each step the worker takes before storing and publishing, with the
// allocations per mail, next to go-message alone reading every part of the same mail:
//
//	go test ./channels/mail -run '^$' -bench Mail20K -benchmem -count 3
//
// parse: the text decoded, the attachment decoded, hashed and spooled (in memory), the
// whole mail hashed; map: the intake to a registration; encode: the registration to its
// events (JSON); all: the three together; go-message: message.Read and every part's body
// read with its transfer encoding decoded (no charsets, no hashing, no repairs).
func BenchmarkMail20K(b *testing.B) {
	raw := ingesttest.BenchMail(1)
	when := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	p := mail.NewParser(nil)
	opts := testOptions()
	parse := func(b *testing.B) *ingest.Intake {
		in, err := p.ParseBytes(raw, when)
		if err != nil {
			b.Fatal(err)
		}
		return in
	}
	mapIt := func(b *testing.B, in *ingest.Intake) *ingest.Mapped {
		m, err := ingest.Map(in, opts)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	encode := func(b *testing.B, m *ingest.Mapped) {
		if _, err := ingest.Events(&m.Registration, "urn:instroom:bench", ingest.Topics{}); err != nil {
			b.Fatal(err)
		}
	}
	run := func(name string, fn func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			fn(b)
		})
	}
	run("parse", func(b *testing.B) {
		for b.Loop() {
			parse(b).Cleanup()
		}
	})
	run("map", func(b *testing.B) {
		in := parse(b)
		defer in.Cleanup()
		for b.Loop() {
			mapIt(b, in)
		}
	})
	run("encode", func(b *testing.B) {
		in := parse(b)
		defer in.Cleanup()
		m := mapIt(b, in)
		for b.Loop() {
			encode(b, m)
		}
	})
	run("all", func(b *testing.B) {
		for b.Loop() {
			in := parse(b)
			encode(b, mapIt(b, in))
			in.Cleanup()
		}
	})
	run("go-message", func(b *testing.B) {
		for b.Loop() {
			// The yardstick the throughput benchmarks print.
			if err := ingesttest.GoMessageRead(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The SHA-256 the contract asks of the mail and of every attachment (Instroom's parse
	// computes both), with go-message reading the parts: the same work as parse, less the
	// text decoding, repairs and spooling.
	run("go-message+sha256", func(b *testing.B) {
		for b.Loop() {
			h := sha256.New()
			e, err := message.Read(io.TeeReader(bytes.NewReader(raw), h))
			if err != nil {
				b.Fatal(err)
			}
			if err := walkEntityHashed(e); err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, e.Body) // the epilogue, for the hash of the whole mail
			h.Sum(nil)
		}
	})
}

// walkEntityHashed reads every part as walkEntity does and hashes every leaf part.
func walkEntityHashed(e *message.Entity) error {
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) || (err != nil && p == nil) {
				return nil
			}
			if err := walkEntityHashed(p); err != nil {
				return err
			}
		}
	}
	h := sha256.New()
	_, _ = io.Copy(h, e.Body)
	h.Sum(nil)
	return nil
}
