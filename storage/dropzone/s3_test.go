package dropzone_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
	"github.com/instroom/instroom/storage/dropzone"
)

const (
	testBucket = "instroom"
	testPrefix = "gemeente/brieven/"
)

// s3Env is a versitygw gateway with a bucket, the connection to it and a client for
// looking behind the zone's back.
type s3Env struct {
	srv  *ingesttest.S3Server
	conn blob.S3Options
	c    *minio.Client
}

func startS3(t *testing.T) s3Env {
	t.Helper()
	srv := ingesttest.StartS3(t, nil)
	srv.CreateBucket(t, testBucket)
	conn := blob.S3Options{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: testBucket, Prefix: strings.TrimSuffix(testPrefix, "/"),
		PathStyle: true, Insecure: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	c, err := blob.NewMinioClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	return s3Env{srv: srv, conn: conn, c: c}
}

// put stores an object last modified at mod (versitygw's posix backend reports the
// file's modification time). It may be called from any goroutine.
func (e s3Env) put(t *testing.T, key, content string, mod time.Time) {
	t.Helper()
	if _, err := e.c.PutObject(context.Background(), testBucket, key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
		t.Errorf("PutObject(%s) = %v", key, err) // not Fatal: put runs in goroutines too
		return
	}
	setModTime(t, filepath.Join(e.srv.Dir, testBucket, filepath.FromSlash(key)), mod)
}

func (e s3Env) get(key string) string {
	o, err := e.c.GetObject(context.Background(), testBucket, key, minio.GetObjectOptions{})
	if err != nil {
		return ""
	}
	defer o.Close()
	b, _ := io.ReadAll(o)
	return string(b)
}

// names lists the objects directly under prefix.
func (e s3Env) names(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for o := range e.c.ListObjectsIter(context.Background(), testBucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			t.Fatalf("listing %s: %v", prefix, o.Err)
		}
		if n := strings.TrimPrefix(o.Key, prefix); !strings.HasSuffix(n, "/") {
			out = append(out, n)
		}
	}
	return out
}

func s3Zone(t *testing.T, o zoneOptions) zone {
	e := startS3(t)
	z, err := dropzone.NewS3Zone(e.conn, &dropzone.S3ZoneOptions{Patterns: o.patterns, MinAge: o.minAge})
	if err != nil {
		t.Fatal(err)
	}
	return s3Helpers(t, e, z, testPrefix)
}

func s3Helpers(t *testing.T, e s3Env, z *dropzone.S3Zone, prefix string) zone {
	now := time.Now() // one clock reading, so that equal ages are equal times
	read := func(rel string) string { return e.get(prefix + rel) }
	return zone{
		DropZone:  z,
		add:       func(n, c string, age time.Duration) { e.put(t, prefix+n, c, now.Add(-age)) },
		read:      read,
		processed: func() []string { return e.names(t, prefix+"processed/") },
		failed:    func() []string { return withoutReasons(e.names(t, prefix+"failed/")) },
		reason:    func(n string) string { return read("failed/" + n + ".reason.json") },
		sub: func(name string) (zone, error) {
			s, err := z.Sub(name)
			if err != nil {
				return zone{}, err
			}
			return s3Helpers(t, e, s, prefix+name+"/"), nil
		},
	}
}

func TestS3ZoneListsPastOnePage(t *testing.T) {
	e := startS3(t)
	z, err := dropzone.NewS3Zone(e.conn, &dropzone.S3ZoneOptions{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1100
	now := time.Now()
	want := make([]string, n)
	var wg sync.WaitGroup
	keys := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				e.put(t, k, "{}", now.Add(-time.Hour))
			}
		})
	}
	for i := range want {
		want[i] = fmt.Sprintf("gesprek-%04d.json", i)
		keys <- testPrefix + want[i]
	}
	close(keys)
	wg.Wait()
	e.put(t, testPrefix+"processed/oud.json", "{}", now.Add(-time.Hour))
	e.put(t, testPrefix+"leverancier/diep.json", "{}", now.Add(-time.Hour))

	// The gateway answers one request with at most 1000 keys, so List has to page.
	res, err := minio.Core{Client: e.c}.ListObjectsV2(testBucket, testPrefix, "", "", "/", 0)
	if err != nil || !res.IsTruncated || len(res.Contents) > 1000 {
		t.Fatalf("first page: truncated %v with %d keys (%v); want a truncated page of at most 1000", res.IsTruncated, len(res.Contents), err)
	}

	type ent struct {
		name string
		mod  time.Time
	}
	var got []ent
	err = z.List(context.Background(), func(name string, size int64, mod time.Time) error {
		if size != 2 {
			t.Errorf("size of %s = %d, want 2", name, size)
		}
		got = append(got, ent{name, mod})
		return nil
	})
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	if len(got) != n {
		t.Fatalf("List returned %d items, want %d", len(got), n)
	}
	// All are equally old, so the order is by name.
	for i, g := range got {
		if g.name != want[i] || !g.mod.Equal(got[0].mod) {
			t.Fatalf("List item %d = %s at %v, want %s at %v", i, g.name, g.mod, want[i], got[0].mod)
		}
	}
}

// pattern is an endless reader of bytes that are not all alike.
type pattern struct{ off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(((p.off + int64(i)) * 2654435761) >> 13)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func TestS3ZoneStreamsLargeItems(t *testing.T) {
	e := startS3(t)
	// With a copy part size of 16 MiB, Done moves the 64 MiB object with a multipart
	// copy, the path objects over 5 GiB take.
	z, err := dropzone.NewS3Zone(e.conn, &dropzone.S3ZoneOptions{MinAge: -1, CopyPartSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const size = 64 << 20
	h := sha256.New()
	_, err = e.c.PutObject(ctx, testBucket, testPrefix+"groot.pdf", io.TeeReader(io.LimitReader(&pattern{}, size), h), size,
		minio.PutObjectOptions{PartSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	want := h.Sum(nil)

	h.Reset()
	buf := make([]byte, 64<<10)
	var m0, m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	peak := m0.HeapAlloc
	rc, err := z.Open(ctx, "groot.pdf")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	var n int64
	for {
		k, err := rc.Read(buf)
		h.Write(buf[:k])
		if n/(4<<20) != (n+int64(k))/(4<<20) {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
		}
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading after %d bytes: %v", n, err)
		}
	}
	rc.Close()
	runtime.ReadMemStats(&m)
	if n != size || !bytes.Equal(h.Sum(nil), want) {
		t.Fatalf("Open streamed %d bytes with another hash, want the %d put", n, size)
	}
	if grew := peak - m0.HeapAlloc; grew > 16<<20 {
		t.Errorf("heap grew by %d MiB while streaming a 64 MiB item, want under 16 MiB", grew>>20)
	}
	if alloc := m.TotalAlloc - m0.TotalAlloc; alloc > 32<<20 {
		t.Errorf("streaming a 64 MiB item allocated %d MiB, want under 32 MiB", alloc>>20)
	}
	t.Logf("streamed 64 MiB: heap peak +%d KiB, allocated %d KiB", (peak-m0.HeapAlloc)>>10, (m.TotalAlloc-m0.TotalAlloc)>>10)

	if err := z.Done(ctx, "groot.pdf"); err != nil {
		t.Fatalf("Done (multipart copy) = %v", err)
	}
	o, err := e.c.GetObject(ctx, testBucket, testPrefix+"processed/groot.pdf", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, err = io.Copy(h, o)
	o.Close()
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), want) {
		t.Errorf("processed/groot.pdf: %d bytes (%v), want the %d put", n, err, size)
	}
	if got := e.names(t, testPrefix); len(got) != 0 {
		t.Errorf("top level after Done = %v, want empty", got)
	}
}

func TestS3ZoneDropSource(t *testing.T) {
	e := startS3(t)
	root, err := dropzone.NewS3Zone(e.conn, &dropzone.S3ZoneOptions{Patterns: []string{"*.json"}})
	if err != nil {
		t.Fatal(err)
	}
	z, err := root.Sub("chatleverancier")
	if err != nil {
		t.Fatal(err)
	}
	const vendor = testPrefix + "chatleverancier/"
	now := time.Now()
	e.put(t, vendor+"g1.json", `{"gesprekId":"g1"}`, now.Add(-3*time.Minute))
	e.put(t, vendor+"g2.json", `{"gesprekId":"g2"}`, now.Add(-2*time.Minute))
	e.put(t, vendor+"g3.json", `{"gesprekId":"g3"}`, now.Add(-time.Minute))
	e.put(t, vendor+"g4.json", `{"gesprekId":"g4"}`, now)       // younger than MinAge
	e.put(t, vendor+"g5.json.part", "{", now.Add(-time.Minute)) // still uploading
	e.put(t, testPrefix+"wortel.json", "{}", now.Add(-time.Minute))

	ctx := context.Background()
	src := ingest.NewDropSource(z, &ingest.DropSourceOptions{Once: true})
	var order []string
	for {
		it, ack, err := src.Read(ctx)
		if errors.Is(err, ingest.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatalf("Read = %v", err)
		}
		order = append(order, it.Ref)
		rc, err := it.Open(ctx)
		if err != nil {
			t.Fatalf("Open(%s) = %v", it.Ref, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if want := fmt.Sprintf(`{"gesprekId":%q}`, strings.TrimSuffix(it.Ref, ".json")); string(b) != want || it.Size != int64(len(want)) {
			t.Errorf("%s: %q (size %d), want %q", it.Ref, b, it.Size, want)
		}
		var result error
		if it.Ref == "g2.json" {
			result = ingest.Permanentf(ingest.ReasonInvalid, "gesprekId ontbreekt in bericht 3")
		}
		if err := ack(ctx, result); err != nil {
			t.Fatalf("ack(%s) = %v", it.Ref, err)
		}
	}
	if want := []string{"g1.json", "g2.json", "g3.json"}; !slices.Equal(order, want) {
		t.Errorf("read %v, want %v", order, want)
	}
	if got, want := e.names(t, vendor+"processed/"), []string{"g1.json", "g3.json"}; !slices.Equal(got, want) {
		t.Errorf("processed/ = %v, want %v", got, want)
	}
	if got, want := e.names(t, vendor+"failed/"), []string{"g2.json", "g2.json.reason.json"}; !slices.Equal(got, want) {
		t.Errorf("failed/ = %v, want %v", got, want)
	}
	var r dropzone.Reason
	if err := json.Unmarshal([]byte(e.get(vendor+"failed/g2.json.reason.json")), &r); err != nil ||
		r.Reason != "invalid" || r.Detail != "gesprekId ontbreekt in bericht 3" || time.Since(r.At) > time.Minute {
		t.Errorf("reason = %+v (%v), want invalid with the detail and a recent time", r, err)
	}
	if got, want := e.names(t, vendor), []string{"g4.json", "g5.json.part"}; !slices.Equal(got, want) {
		t.Errorf("vendor folder left with %v, want %v", got, want)
	}
	if got := e.names(t, testPrefix); !slices.Equal(got, []string{"wortel.json"}) {
		t.Errorf("root left with %v, want [wortel.json]", got)
	}
}

func TestS3ZoneErrorsHideNames(t *testing.T) {
	e := startS3(t)
	z, err := dropzone.NewS3Zone(e.conn, &dropzone.S3ZoneOptions{MinAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const name = "bezwaar-j-de-vries-123456782.pdf" // a citizen's own file name
	check := func(state string, gone bool) {
		t.Helper()
		_, errOpen := z.Open(ctx, name)
		for op, err := range map[string]error{
			"Open": errOpen,
			"Done": z.Done(ctx, name),
			"Fail": z.Fail(ctx, name, "invalid", "x"),
		} {
			switch {
			case err == nil:
				t.Errorf("%s(%s) = nil, want an error", op, state)
			case strings.Contains(err.Error(), "vries") || strings.Contains(err.Error(), "123456782"):
				t.Errorf("%s(%s) = %q, which shows the item's name", op, state, err)
			case !strings.HasPrefix(err.Error(), "dropzone: "):
				t.Errorf("%s(%s) = %q, want the package prefix", op, state, err)
			case errors.Is(err, fs.ErrNotExist) != gone:
				t.Errorf("%s(%s) = %q: errors.Is(err, fs.ErrNotExist) = %v, want %v", op, state, err, !gone, gone)
			}
		}
	}
	check("missing item", true)
	e.srv.Stop()
	check("server down", false)
	err = z.List(ctx, func(string, int64, time.Time) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "dropzone: listing: ") {
		t.Errorf("List(server down) = %v, want a listing error", err)
	}
}

func TestS3ZoneCheck(t *testing.T) {
	e := startS3(t)
	ctx := context.Background()
	mk := func(change func(*blob.S3Options)) *dropzone.S3Zone {
		t.Helper()
		conn := e.conn
		change(&conn)
		z, err := dropzone.NewS3Zone(conn, nil)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	if err := mk(func(*blob.S3Options) {}).Check(ctx); err != nil {
		t.Errorf("Check = %v", err)
	}
	err := mk(func(o *blob.S3Options) { o.Bucket = "bestaat-niet" }).Check(ctx)
	if !errors.Is(err, dropzone.ErrNoBucket) || !dropzone.Misconfigured(err) {
		t.Errorf("Check(missing bucket) = %v, want ErrNoBucket, misconfigured", err)
	}
	err = mk(func(o *blob.S3Options) { o.SecretKey = "geheim-maar-fout" }).Check(ctx)
	if err == nil || !dropzone.Misconfigured(err) || strings.Contains(err.Error(), "geheim") {
		t.Errorf("Check(wrong secret) = %v, want a misconfiguration that does not show the secret", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := mk(func(*blob.S3Options) {}).Check(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check(cancelled) = %v, want context.Canceled", err)
	}
	e.srv.Stop()
	err = mk(func(*blob.S3Options) {}).Check(ctx)
	if err == nil || dropzone.Misconfigured(err) {
		t.Errorf("Check(server down) = %v, want an error that is not a misconfiguration", err)
	}
}

func TestNewS3Zone(t *testing.T) {
	conn := blob.S3Options{Endpoint: "s3.example.nl:9000", Bucket: "instroom", Prefix: "/gemeente/brieven/",
		AccessKey: "AKIAVOORBEELD", SecretKey: "heel-geheim"}
	z, err := dropzone.NewS3Zone(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := z.String(); got != "s3:instroom/gemeente/brieven" {
		t.Errorf("String() = %q, want s3:instroom/gemeente/brieven", got)
	}
	sub, err := z.Sub("scanstraat")
	if err != nil || sub.String() != "s3:instroom/gemeente/brieven/scanstraat" {
		t.Errorf("Sub(scanstraat) = %v, %v; want s3:instroom/gemeente/brieven/scanstraat", sub, err)
	}
	conn.Prefix = ""
	if z, err := dropzone.NewS3Zone(conn, nil); err != nil || z.String() != "s3:instroom/" {
		t.Errorf("NewS3Zone(no prefix) = %v, %v; want s3:instroom/", z, err)
	}
	bad := map[string]func(*blob.S3Options, *dropzone.S3ZoneOptions){
		"no endpoint":        func(c *blob.S3Options, _ *dropzone.S3ZoneOptions) { c.Endpoint = "" },
		"no bucket":          func(c *blob.S3Options, _ *dropzone.S3ZoneOptions) { c.Bucket = "" },
		"empty segment":      func(c *blob.S3Options, _ *dropzone.S3ZoneOptions) { c.Prefix = "a//b" },
		"dot-dot segment":    func(c *blob.S3Options, _ *dropzone.S3ZoneOptions) { c.Prefix = "a/../b" },
		"unknown sse":        func(c *blob.S3Options, _ *dropzone.S3ZoneOptions) { c.SSE = "rot13" },
		"copy part small":    func(_ *blob.S3Options, o *dropzone.S3ZoneOptions) { o.CopyPartSize = 1 << 20 },
		"copy part large":    func(_ *blob.S3Options, o *dropzone.S3ZoneOptions) { o.CopyPartSize = 6 << 30 },
		"negative copy part": func(_ *blob.S3Options, o *dropzone.S3ZoneOptions) { o.CopyPartSize = -1 },
	}
	for name, change := range bad {
		c, o := conn, dropzone.S3ZoneOptions{}
		change(&c, &o)
		if _, err := dropzone.NewS3Zone(c, &o); err == nil {
			t.Errorf("NewS3Zone(%s) = nil error, want one", name)
		} else if strings.Contains(err.Error(), "heel-geheim") {
			t.Errorf("NewS3Zone(%s) = %q, which shows the secret", name, err)
		}
	}
}
