package brief_test

import (
	"context"
	"os"
	"testing"
	"time"
)

// The letter source reports its backlog (the oldest complete letter waiting or in flight)
// and whether its last listing worked, for the metrics and /readyz.
func TestSourceBacklogAndReachability(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.letter("scanstraat", "SCAN-OUD", time.Hour)
	lz.letter("scanstraat", "SCAN-NIEUW", time.Minute)
	s := lz.source(false)
	if _, known := s.Reachable(); known {
		t.Fatal("reachability known before the first listing")
	}
	ctx := context.Background()
	_, ack, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if up, known := s.Reachable(); !up || !known {
		t.Errorf("Reachable = %v, %v after a listing", up, known)
	}
	// The oldest letter's scan is a second older than its sidecar: the later counts.
	if oldest, ok := s.Oldest(); !ok || !oldest.Equal(t0.Add(-time.Hour)) {
		t.Errorf("Oldest = %v, %v; want %v", oldest, ok, t0.Add(-time.Hour))
	}
	if err := ack(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if oldest, ok := s.Oldest(); !ok || !oldest.Equal(t0.Add(-time.Minute)) {
		t.Errorf("after settling the oldest: Oldest = %v, %v; want %v", oldest, ok, t0.Add(-time.Minute))
	}
	// The folder gone: the next listing fails and the source is unreachable.
	_, ack, err = s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ack(ctx, nil)
	if err := os.RemoveAll(lz.root); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s.Read(rctx)
	if up, known := s.Reachable(); up || !known {
		t.Errorf("Reachable = %v, %v with the folder gone; want false, true", up, known)
	}
}
