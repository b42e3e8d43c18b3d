package brief_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/channels/brief"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/storage/dropzone"
)

// t0 is the fixed "now" of the source tests; files get modification times before it.
var t0 = time.Date(2024, 3, 20, 12, 0, 0, 0, time.UTC)

// clock is an injectable, settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// letterZone is a directory drop zone with one folder per vendor.
type letterZone struct {
	t     *testing.T
	root  string
	clock *clock
	zones map[string]*dropzone.Dir
}

func newLetterZone(t *testing.T, vendors ...string) *letterZone {
	t.Helper()
	lz := &letterZone{t: t, root: t.TempDir(), clock: &clock{now: t0}, zones: map[string]*dropzone.Dir{}}
	d, err := dropzone.NewDir(lz.root, &dropzone.DirOptions{MinAge: -1, Now: lz.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vendors {
		if lz.zones[v], err = d.Sub(v); err != nil {
			t.Fatal(err)
		}
	}
	return lz
}

func (lz *letterZone) source(once bool, wrap ...func(ingest.DropZone) ingest.DropZone) *brief.Source {
	var vz []brief.VendorZone
	var keys []string
	for v := range lz.zones {
		keys = append(keys, v)
	}
	sort.Strings(keys)
	for _, v := range keys {
		var z ingest.DropZone = lz.zones[v]
		for _, w := range wrap {
			z = w(z)
		}
		vz = append(vz, brief.VendorZone{Vendor: v, Zone: z})
	}
	return brief.NewSource(vz, &brief.SourceOptions{Once: once, PairTimeout: time.Hour, PollInterval: time.Millisecond, Now: lz.clock.Now})
}

// put writes a file into a vendor's folder (place "" is the top level) with a
// modification time age before t0.
func (lz *letterZone) put(vendor, place, name, content string, age time.Duration) {
	lz.t.Helper()
	p := filepath.Join(lz.root, vendor, place, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		lz.t.Fatal(err)
	}
	mod := t0.Add(-age)
	if err := os.Chtimes(p, mod, mod); err != nil {
		lz.t.Fatal(err)
	}
}

// letter writes a sidecar and its scan.
func (lz *letterZone) letter(vendor, scanID string, age time.Duration) {
	lz.put(vendor, "", scanID+".pdf", "%PDF-1.4 scan of "+scanID, age+time.Second)
	lz.put(vendor, "", scanID+".json", sidecar(scanID, scanID+".pdf"), age)
}

func sidecar(scanID, bestand string) string {
	return fmt.Sprintf(`{"scanId":%q,"gescandOp":"2024-03-12T09:41:17+01:00","bestand":%q}`, scanID, bestand)
}

// where says where a file of a vendor is: "top", "processed", "failed" or "".
func (lz *letterZone) where(vendor, name string) string {
	for _, place := range []string{"", "processed", "failed"} {
		if _, err := os.Stat(filepath.Join(lz.root, vendor, place, name)); err == nil {
			if place == "" {
				return "top"
			}
			return place
		}
	}
	return ""
}

func (lz *letterZone) reason(vendor, name string) string {
	b, err := os.ReadFile(filepath.Join(lz.root, vendor, "failed", name+".reason.json"))
	if err != nil {
		return ""
	}
	var r struct{ Reason string }
	json.Unmarshal(b, &r)
	return r.Reason
}

func (lz *letterZone) wantWhere(vendor string, want map[string]string) {
	lz.t.Helper()
	for name, w := range want {
		if got := lz.where(vendor, name); got != w {
			lz.t.Errorf("%s/%s is in %q, want %q", vendor, name, got, w)
		}
	}
}

func read(t *testing.T, s *brief.Source) (*ingest.Item, ingest.AckFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it, ack, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("Read() = %v, want an item", err)
	}
	return it, ack
}

func wantEnd(t *testing.T, s *brief.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if it, _, err := s.Read(ctx); !errors.Is(err, ingest.ErrEndOfInput) {
		t.Fatalf("Read() = %v, %v, want ErrEndOfInput", it, err)
	}
}

func content(t *testing.T, open func(context.Context) (io.ReadCloser, error)) string {
	t.Helper()
	rc, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func TestSourcePairsOldestFirst(t *testing.T) {
	lz := newLetterZone(t, "postkamer", "scanstraat")
	lz.letter("scanstraat", "S-2", time.Minute)
	lz.letter("postkamer", "S-1", 2*time.Minute)
	lz.letter("scanstraat", "S-1", 3*time.Minute) // the same scanId from another vendor: another letter
	s := lz.source(true)
	var refs []string
	for range 3 {
		it, ack := read(t, s)
		refs = append(refs, it.Ref)
		scanID := strings.TrimSuffix(filepath.Base(it.Ref), ".json")
		if it.Vendor != strings.Split(it.Ref, "/")[0] || len(it.Files) != 1 || it.Files[0].Name != scanID+".pdf" {
			t.Fatalf("Read() = ref %s vendor %s files %+v", it.Ref, it.Vendor, it.Files)
		}
		side, scan := content(t, it.Open), content(t, it.Files[0].Open)
		if side != sidecar(scanID, scanID+".pdf") || scan != "%PDF-1.4 scan of "+scanID {
			t.Errorf("item %s opens %q and %q", it.Ref, side, scan)
		}
		if it.Size != int64(len(side)+len(scan)) || it.Files[0].Size != int64(len(scan)) {
			t.Errorf("item %s: Size %d, scan size %d, want %d and %d", it.Ref, it.Size, it.Files[0].Size, len(side)+len(scan), len(scan))
		}
		if err := ack(context.Background(), nil); err != nil {
			t.Fatalf("ack(nil) = %v", err)
		}
	}
	want := []string{"scanstraat/S-1.json", "postkamer/S-1.json", "scanstraat/S-2.json"}
	if strings.Join(refs, " ") != strings.Join(want, " ") {
		t.Errorf("Read order = %v, want %v", refs, want)
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "processed", "S-1.pdf": "processed", "S-2.json": "processed", "S-2.pdf": "processed"})
	lz.wantWhere("postkamer", map[string]string{"S-1.json": "processed", "S-1.pdf": "processed"})
}

func TestSourceHalvesMeet(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.put("scanstraat", "", "S-1.json", sidecar("S-1", "S-1.PNG"), time.Minute)
	lz.put("scanstraat", "", "S-2.png", "\x89PNG\r\n\x1a\n", time.Minute)
	s := lz.source(true)
	wantEnd(t, s)
	lz.put("scanstraat", "", "S-1.PNG", "\x89PNG\r\n\x1a\n", 0)
	lz.put("scanstraat", "", "S-2.json", sidecar("S-2", "S-2.png"), 0)
	for range 2 {
		it, ack := read(t, s)
		if len(it.Files) != 1 {
			t.Fatalf("item %s has no scan", it.Ref)
		}
		ack(context.Background(), nil)
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "processed", "S-1.PNG": "processed", "S-2.json": "processed", "S-2.png": "processed"})
}

func TestSourceAck(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.letter("scanstraat", "S-1", time.Minute)
	s := lz.source(true)

	// Temporary: both stay and the letter is read again.
	_, ack := read(t, s)
	if err := ack(context.Background(), errors.New("kafka unreachable")); err != nil {
		t.Fatalf("ack(temporary) = %v", err)
	}
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "top", "S-1.pdf": "top"})

	// Permanent: both go to failed/ with the reason.
	it, ack := read(t, s)
	if it.Ref != "scanstraat/S-1.json" {
		t.Fatalf("Read() after a temporary failure = %s, want the same letter", it.Ref)
	}
	if err := ack(context.Background(), ingest.Permanentf(ingest.ReasonInvalid, "cannot become a registration")); err != nil {
		t.Fatalf("ack(permanent) = %v", err)
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "failed", "S-1.pdf": "failed"})
	for _, n := range []string{"S-1.json", "S-1.pdf"} {
		if r := lz.reason("scanstraat", n); r != ingest.ReasonInvalid {
			t.Errorf("reason of %s = %q, want invalid", n, r)
		}
	}
}

func TestSourceUnreadableSidecar(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.put("scanstraat", "", "S-1.json", `{"scanId": "S-1", "bestand": `, time.Minute)
	lz.put("scanstraat", "", "S-1.pdf", "%PDF-1.4", time.Minute)
	lz.put("scanstraat", "", "S-2.json", `{"scanId":"S-2","bestand":"../S-1.pdf"}`, time.Minute)
	s := lz.source(true)
	for range 2 {
		it, ack := read(t, s)
		if len(it.Files) != 0 {
			t.Errorf("item %s of a sidecar naming no valid bestand has files %+v", it.Ref, it.Files)
		}
		ack(context.Background(), ingest.Permanentf(ingest.ReasonUnparseable, "not JSON"))
	}
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "failed", "S-2.json": "failed", "S-1.pdf": "top"})
}

// TestSourceScanLeftBehind: the worker settled the sidecar and died before its scan; the
// next run moves the scan to processed/ at its first listing. A new delivery that reuses
// the name of a processed scan is not taken for one left behind.
func TestSourceScanLeftBehind(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.put("scanstraat", "processed", "S-1.json", sidecar("S-1", "S-1.pdf"), time.Minute)
	lz.put("scanstraat", "", "S-1.pdf", "%PDF-1.4", time.Minute)
	lz.put("scanstraat", "processed", "S-2.json", sidecar("S-2", "S-2.pdf"), time.Hour)
	lz.put("scanstraat", "processed", "S-2.pdf", "%PDF-1.4 first", time.Hour)
	lz.put("scanstraat", "", "S-2.pdf", "%PDF-1.4 second", time.Minute) // its sidecar is on its way
	lz.put("scanstraat", "processed", "S-3.json", sidecar("S-3", "ander.pdf"), time.Minute)
	lz.put("scanstraat", "", "S-3.pdf", "%PDF-1.4", time.Minute) // named by no sidecar
	s := lz.source(true)
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.pdf": "processed", "S-2.pdf": "top", "S-3.pdf": "top"})
	lz.put("scanstraat", "", "S-2.json", sidecar("S-2", "S-2.pdf"), 0)
	it, ack := read(t, s)
	if it.Ref != "scanstraat/S-2.json" || len(it.Files) != 1 || content(t, it.Files[0].Open) != "%PDF-1.4 second" {
		t.Fatalf("Read() = %s %+v, want the redelivered S-2 with its new scan", it.Ref, it.Files)
	}
	ack(context.Background(), nil)
	wantEnd(t, s)
}

// failingZone fails Done and Fail of the names in fail, once each.
type failingZone struct {
	ingest.DropZone
	mu   sync.Mutex
	fail map[string]bool
}

func (z *failingZone) broken(name string) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.fail[name] {
		delete(z.fail, name)
		return true
	}
	return false
}

func (z *failingZone) Done(ctx context.Context, name string) error {
	if z.broken(name) {
		return errors.New("disk full")
	}
	return z.DropZone.Done(ctx, name)
}

func (z *failingZone) Fail(ctx context.Context, name, reason, detail string) error {
	if z.broken(name) {
		return errors.New("disk full")
	}
	return z.DropZone.Fail(ctx, name, reason, detail)
}

// TestSourceScanFollowsSidecar: a scan that could not follow its settled sidecar is moved
// at the next listing, to the same place with the same reason.
func TestSourceScanFollowsSidecar(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.letter("scanstraat", "S-1", 2*time.Minute)
	lz.letter("scanstraat", "S-2", time.Minute)
	fz := &failingZone{fail: map[string]bool{"S-1.pdf": true, "S-2.pdf": true}}
	s := lz.source(true, func(z ingest.DropZone) ingest.DropZone { fz.DropZone = z; return fz })
	_, ack := read(t, s)
	if err := ack(context.Background(), nil); err == nil {
		t.Error("ack(nil) = nil while the scan could not be moved, want the error")
	}
	_, ack = read(t, s)
	if err := ack(context.Background(), ingest.Permanentf(ingest.ReasonRejected, "refused")); err == nil {
		t.Error("ack(permanent) = nil while the scan could not be moved, want the error")
	}
	lz.wantWhere("scanstraat", map[string]string{"S-1.json": "processed", "S-1.pdf": "top", "S-2.json": "failed", "S-2.pdf": "top"})
	wantEnd(t, s)
	lz.wantWhere("scanstraat", map[string]string{"S-1.pdf": "processed", "S-2.pdf": "failed"})
	if r := lz.reason("scanstraat", "S-2.pdf"); r != ingest.ReasonRejected {
		t.Errorf("reason of the scan that followed = %q, want rejected", r)
	}
}

// TestSourceConcurrentReads: several workers read at once; each letter is yielded once.
func TestSourceConcurrentReads(t *testing.T) {
	lz := newLetterZone(t, "a", "b")
	const n = 20
	for i := range n {
		lz.letter([]string{"a", "b"}[i%2], fmt.Sprintf("S-%02d", i), time.Duration(i)*time.Second)
	}
	s := lz.source(true)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				it, ack, err := s.Read(context.Background())
				if err != nil {
					return
				}
				mu.Lock()
				seen[it.Ref]++
				mu.Unlock()
				ack(context.Background(), nil)
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("read %d letters, want %d", len(seen), n)
	}
	for ref, c := range seen {
		if c != 1 {
			t.Errorf("%s was read %d times", ref, c)
		}
	}
}

// TestSourceInFlight: a letter in flight is not yielded again.
func TestSourceInFlight(t *testing.T) {
	lz := newLetterZone(t, "scanstraat")
	lz.letter("scanstraat", "S-1", time.Minute)
	s := lz.source(false)
	_, ack := read(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if it, _, err := s.Read(ctx); err == nil {
		t.Fatalf("Read() while S-1 is in flight = %s, want none", it.Ref)
	}
	ack(context.Background(), errors.New("temporary"))
	if it, _ := read(t, s); it.Ref != "scanstraat/S-1.json" {
		t.Errorf("Read() after the ack = %s, want S-1 again", it.Ref)
	}
}
