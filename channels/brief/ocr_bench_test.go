package brief

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest/ingesttest"
)

// BenchmarkOCR measures OCR pages/s of Instroom's text extraction next to tesseract alone, on
// the same eight generated 300 dpi letter pages, in the same run, with all cores busy:
//
//	go test -run '^$' -bench BenchmarkOCR -benchtime 3x ./channels/brief
//
// Each iteration runs three rounds one after the other, so that other load on the machine
// falls on all of them alike:
//
//   - tesseract: `tesseract page.png - -l nld` per page with OMP_THREAD_LIMIT=1, NumCPU
//     processes at a time;
//   - instroom-png: the eight PNGs as eight letters at once through one textExtractor
//     (Workers = NumCPU);
//   - instroom-tiff: the same pages as one eight-page TIFF letter (its pages in parallel).
//
// It reports pages/s of each and instroom-png as a percentage of tesseract alone; the target
// is 90% or more.
func BenchmarkOCR(b *testing.B) {
	needOCRTools(b)
	tess := ingesttest.Need(b, "tesseract")
	dir := b.TempDir()
	const n = 8
	pngs := make([]string, n)
	imgs := make([]*image.Gray, n)
	for i := range n {
		imgs[i] = renderLetter(b, testLetters[i%len(testLetters)], fmt.Sprintf("Pagina %d", i+1))
		pngs[i] = writeScan(b, dir, fmt.Sprintf("page-%d.png", i), encodePNG(b, imgs[i], pageDPI))
	}
	tiff := writeScan(b, dir, "letter.tif", encodeTIFF(b, imgs, pageDPI))
	workers := runtime.NumCPU()
	x := newTextExtractor(ocrOptions{Workers: workers})
	rounds := []struct {
		name string
		run  func()
		took time.Duration
	}{
		{name: "tesseract", run: func() {
			parallel(b, workers, pngs, func(p string) error {
				cmd := exec.Command(tess, p, "-", "-l", "nld")
				cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
				return cmd.Run()
			})
		}},
		{name: "instroom-png", run: func() {
			parallel(b, len(pngs), pngs, func(p string) error { return extractOK(x, p, mediaPNG) })
		}},
		{name: "instroom-tiff", run: func() {
			if err := extractOK(x, tiff, mediaTIFF); err != nil {
				b.Fatal(err)
			}
		}},
	}
	for k := 0; b.Loop(); k++ {
		// Rotate the order each iteration, so no round always runs first or last on a
		// machine whose speed drifts (shared cores, frequency scaling).
		for j := range rounds {
			i := (j + k) % len(rounds)
			start := time.Now()
			rounds[i].run()
			rounds[i].took += time.Since(start)
		}
	}
	for _, r := range rounds {
		b.ReportMetric(float64(n*b.N)/r.took.Seconds(), r.name+"-pages/s")
	}
	b.ReportMetric(100*rounds[0].took.Seconds()/rounds[1].took.Seconds(), "png-%-of-tesseract")
	b.ReportMetric(100*rounds[0].took.Seconds()/rounds[2].took.Seconds(), "tiff-%-of-tesseract")
}

// extractOK extracts a page and fails on an error or a note.
func extractOK(x *textExtractor, path, format string) error {
	text, _, notes, err := x.extract(context.Background(), path, format)
	switch {
	case err != nil:
		return err
	case len(notes) > 0 || len(text) < 500:
		return fmt.Errorf("extract(%s) = %d bytes of text, notes %q", filepath.Base(path), len(text), notes)
	}
	return nil
}

// parallel runs fn on every path, at most limit at a time, and fails b on an error.
func parallel(b *testing.B, limit int, paths []string, fn func(string) error) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	errs := make([]error, len(paths))
	for i, p := range paths {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fn(p)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}
