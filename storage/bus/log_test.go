package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/instroom/instroom/storage/bus"
)

func rec(id, value string) bus.Record {
	return bus.Record{Topic: "klantcontacten", Key: "k", Headers: map[string]string{"ce_id": id}, Value: json.RawMessage(value)}
}

func TestAppendDedupesAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := bus.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, rec("1", `{"a":1}`), rec("2", `{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, rec("1", `{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, _ = bus.Open(dir)
	// Redone after a restart: identical events are not written again, changed ones are.
	if err := l.Append(ctx, rec("2", `{"a":2}`), rec("2", `{"a":3}`), rec("3", `{"a":4}`)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got, err := bus.ReadAll(l.Path("klantcontacten"))
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, r := range got {
		vals = append(vals, string(r.Value))
	}
	want := []string{`{"a":1}`, `{"a":2}`, `{"a":3}`, `{"a":4}`}
	if len(vals) != len(want) {
		t.Fatalf("log = %v, want %v", vals, want)
	}
	for i := range want {
		if vals[i] != want[i] {
			t.Errorf("log[%d] = %s, want %s", i, vals[i], want[i])
		}
	}
}

func TestOpenRepairsATornLine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, _ := bus.Open(dir)
	if err := l.Append(ctx, rec("1", `{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, _ := os.OpenFile(l.Path("klantcontacten"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"topic":"klantcontacten","key":"k","hea`) // a crash mid-write
	f.Close()
	l, _ = bus.Open(dir)
	if err := l.Append(ctx, rec("2", `{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got, err := bus.ReadAll(l.Path("klantcontacten"))
	if err != nil {
		t.Fatalf("ReadAll after repair = %v", err)
	}
	if len(got) != 2 {
		t.Errorf("records after repair = %d, want 2", len(got))
	}
}

func TestRejectsBadTopic(t *testing.T) {
	l, _ := bus.Open(t.TempDir())
	defer l.Close()
	r := rec("1", `{}`)
	r.Topic = "../x"
	if err := l.Append(context.Background(), r); err == nil {
		t.Error("Append(topic ../x) = nil, want error")
	}
}

func TestSeenWindowIsBounded(t *testing.T) {
	ctx := context.Background()
	l, _ := bus.Open(t.TempDir())
	defer l.Close()
	// The first event, then more than the window, then the first again: it is written
	// again (the window forgot it), while a recent one is still skipped.
	if err := l.Append(ctx, rec("first", `{}`)); err != nil {
		t.Fatal(err)
	}
	batch := make([]bus.Record, 0, 1000)
	for i := 0; i < 100_000; i++ {
		batch = append(batch, rec(fmt.Sprint(i), `{}`))
		if len(batch) == cap(batch) {
			if err := l.Append(ctx, batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := l.Append(ctx, rec("first", `{}`), rec("99999", `{}`)); err != nil {
		t.Fatal(err)
	}
	recs, _ := bus.ReadAll(l.Path("klantcontacten"))
	if len(recs) != 100_002 {
		t.Errorf("log holds %d records, want 100002 (first twice, the recent one once)", len(recs))
	}
}
