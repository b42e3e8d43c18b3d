package brief

import (
	"time"

	"github.com/instroom/instroom/ingest"
)

// backlog is what operators see of the letter drop zones from outside: the arrival times
// of the complete letters waiting or in flight (as of the last listing, minus what was
// settled since), and whether the last listing worked. Guarded by Source.mu.
type backlog struct {
	arrived map[string]time.Time // vendor/sidecar: the later of sidecar's and scan's times
	listed  int                  // 0: not yet, 1: the last listing worked, -1: it failed
}

var (
	_ ingest.Backlogger = (*Source)(nil)
	_ ingest.Prober     = (*Source)(nil)
)

// noteListing records a listing's outcome and the letters it found. The caller holds s.mu.
func (s *Source) noteListing(found []pair, err error) {
	if err != nil {
		s.backlog.listed = -1
		return
	}
	s.backlog.listed = 1
	s.backlog.arrived = make(map[string]time.Time, len(found))
	for _, p := range found {
		if p.alone != nil {
			continue // not a letter: a half that is failed as soon as it is read
		}
		at := p.sidecar.mod
		if p.scan != nil && p.scan.mod.After(at) {
			at = p.scan.mod
		}
		s.backlog.arrived[inflightKey(p.vz.Vendor, p.sidecar.name)] = at
	}
}

// Oldest implements ingest.Backlogger.
func (s *Source) Oldest() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, at := range s.backlog.arrived {
		if oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	return oldest, !oldest.IsZero()
}

// Reachable implements ingest.Prober: whether the last listing of every vendor's folder
// worked.
func (s *Source) Reachable() (up, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backlog.listed == 1, s.backlog.listed != 0
}
