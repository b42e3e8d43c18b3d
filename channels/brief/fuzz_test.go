package brief

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
)

func addSidecarSeeds(f *testing.F, add func(b []byte)) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		if strings.HasSuffix(file, ".golden.json") {
			continue
		}
		if b, err := os.ReadFile(file); err == nil {
			add(b)
		}
	}
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"scanId":"S","gescandOp":"2024-03-12T09:41:17Z","bestand":"s.pdf","paginas":1e2}`,
		`{"scanId":"S","gescandOp":"2016-12-31T23:59:60Z","bestand":"s.pdf"}`, "\uFEFF{}", `{"bestand":"a.pdf","bestand":"b.pdf"}`} {
		add([]byte(s))
	}
}

// FuzzSidecar: decodeSidecar never panics, returns a sidecar or problems (not both), and
// agrees with the source about the scan a valid sidecar names.
func FuzzSidecar(f *testing.F) {
	addSidecarSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, probs := decodeSidecar(b)
		if (sc == nil) == (probs == nil) {
			t.Fatalf("decodeSidecar = %v, %v: want exactly one of sidecar and problems", sc, probs)
		}
		for _, p := range probs {
			if p.Code == "" || p.Reason == "" || (p.Name != "" && !strings.HasPrefix(p.Name, "/")) {
				t.Fatalf("problem %+v is incomplete or not a JSON Pointer", p)
			}
		}
		if sc == nil {
			return
		}
		if b, err := readBestand(bytes.NewReader(b)); err != nil || b != sc.Bestand {
			t.Fatalf("readBestand = %q, %v; decodeSidecar says bestand %q", b, err, sc.Bestand)
		}
		if scannedAt(sc.GescandOp, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)).IsZero() {
			t.Fatalf("scannedAt cannot read the valid gescandOp %q", sc.GescandOp)
		}
	})
}

// FuzzParse: any sidecar with any scan parses or fails without panicking; a parsed letter
// maps to a registration, and its spool file is removed by Cleanup (or on failure).
func FuzzParse(f *testing.F) {
	pdf, _ := os.ReadFile("testdata/SCAN-20240312-000123.pdf")
	addSidecarSeeds(f, func(b []byte) { f.Add(b, pdf) })
	f.Add([]byte(`{"scanId":"S","gescandOp":"2024-03-12T09:41:17Z","bestand":"s.png"}`), []byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte(`{"scanId":"S","gescandOp":"2024-03-12T09:41:17Z","bestand":"s.png"}`), []byte{})
	spool := f.TempDir()
	p := NewParser(&Options{SpoolDir: spool, MaxBytes: 1 << 20})
	p.extract = func(_ context.Context, path, _ string) (string, int, []string, error) {
		b, err := os.ReadFile(path)
		return strings.ToValidUTF8(string(b), ""), 1, nil, err
	}
	f.Fuzz(func(t *testing.T, side, scan []byte) {
		bestand, _ := readBestand(bytes.NewReader(side))
		it := &ingest.Item{
			Ref: "v/s.json", Vendor: "v", ReceivedAt: received,
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(side)), nil },
		}
		if bestand != "" {
			it.Files = []ingest.ItemFile{{Name: bestand, Size: int64(len(scan)), Open: func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(scan)), nil
			}}}
		}
		in, err := p.Parse(context.Background(), it)
		if err == nil {
			if _, merr := ingest.Map(in, nil); merr != nil {
				t.Fatalf("Map(parsed letter) = %v", merr)
			}
			in.Cleanup()
		} else if bestand != "" && !ingest.IsPermanent(err) {
			t.Fatalf("Parse = %v: a paired letter must parse or fail for good", err)
		}
		if left, _ := filepath.Glob(filepath.Join(spool, "*")); len(left) > 0 {
			t.Fatalf("%d spool files left", len(left))
		}
	})
}
