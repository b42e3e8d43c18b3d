package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/instroom/instroom/ingest"
)

// memBlobs is a recording blob store with injectable failures.
type memBlobs struct {
	mu      sync.Mutex
	objects map[string][]byte
	fail    int // fail the next n puts (temporarily)
	puts    int
}

func (b *memBlobs) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.puts++
	if b.fail > 0 {
		b.fail--
		return errors.New("blob store unavailable")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if int64(len(data)) != size {
		return fmt.Errorf("size %d != %d", len(data), size)
	}
	if b.objects == nil {
		b.objects = map[string][]byte{}
	}
	b.objects[key] = data
	return nil
}

// memBus is a recording publisher with injectable failures.
type memBus struct {
	mu   sync.Mutex
	msgs []ingest.Message
	fail int
}

func (p *memBus) Publish(ctx context.Context, msgs ...ingest.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail > 0 {
		p.fail--
		return errors.New("broker unavailable")
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *memBus) topic(name string) []ingest.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ingest.Message
	for _, m := range p.msgs {
		if m.Topic == name {
			out = append(out, m)
		}
	}
	return out
}

// sliceSource yields fixed items once each and records how they were settled.
type sliceSource struct {
	mu    sync.Mutex
	items []*ingest.Item
	acks  map[string]string // ref -> "done", "failed:<reason>", "nack"
}

func newSliceSource(items ...*ingest.Item) *sliceSource {
	return &sliceSource{items: items, acks: map[string]string{}}
}

func (s *sliceSource) Read(ctx context.Context) (*ingest.Item, ingest.AckFunc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == 0 {
		return nil, nil, ingest.ErrEndOfInput
	}
	it := s.items[0]
	s.items = s.items[1:]
	return it, func(ctx context.Context, err error) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case err == nil:
			s.acks[it.Ref] = "done"
		case ingest.IsPermanent(err):
			s.acks[it.Ref] = "failed:" + ingest.ReasonOf(err)
		default:
			s.acks[it.Ref] = "nack"
		}
		return nil
	}, nil
}

func (s *sliceSource) Close() error { return nil }

// textParser treats each item as "subject\nbody"; "PANIC" panics, "BAD" is unparseable.
type textParser struct{}

func (textParser) Parse(ctx context.Context, it *ingest.Item) (*ingest.Intake, error) {
	rc, err := it.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	s := string(b)
	switch s {
	case "PANIC":
		panic("parser bug")
	case "BAD":
		return nil, ingest.Permanentf(ingest.ReasonUnparseable, "not a message")
	}
	subject, body, _ := strings.Cut(s, "\n")
	return &ingest.Intake{
		Channel: "email", Identity: "id:" + it.Ref, Subject: subject, Text: body,
		Sender:     ingest.Sender{Name: "Jan de Vries", Address: "jan@example.nl"},
		ReceivedAt: it.ReceivedAt, Original: ingest.BytesContent("bericht.eml", "message/rfc822", b),
	}, nil
}

func textItem(ref, content string) *ingest.Item {
	return &ingest.Item{
		Ref: ref, Size: int64(len(content)), ReceivedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader([]byte(content))), nil
		},
	}
}
