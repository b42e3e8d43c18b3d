package brief

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on what is read of a tool's output into memory.
const (
	maxTextBytes     = 20 << 20 // the text of a letter, and pdftotext's output
	maxPageTextBytes = 2 << 20  // tesseract's output for one page
	maxStderrBytes   = 16 << 10
	maxToolInfoBytes = 1 << 20 // pdfinfo
)

// maxOCRPixels bounds the pages given to tesseract: A0 at 300 dpi is 139 megapixels.
const maxOCRPixels = 150_000_000

// errToolMissing marks a tool that could not be started.
var errToolMissing = errors.New("tool not installed")

// toolRun is the outcome of one tool process.
type toolRun struct {
	stdout    []byte
	truncated bool   // stdout was longer than the limit
	stderr    string // bounded; never logged, it may quote the document
}

// runTool runs a tool without a shell, with OMP_THREAD_LIMIT=1, in its own process group
// that is killed as a whole when ctx ends. It reads at most limit bytes of stdout. The error
// is ctx's when ctx ended, errToolMissing when the tool cannot be started, else the exit error.
func runTool(ctx context.Context, limit int, path string, args ...string) (toolRun, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1", "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	stdout := &cappedBuffer{max: limit}
	stderr := &cappedBuffer{max: maxStderrBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	run := toolRun{stdout: stdout.buf.Bytes(), truncated: stdout.over, stderr: stderr.buf.String()}
	switch {
	case err == nil:
		return run, nil
	case ctx.Err() != nil:
		return run, ctx.Err()
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return run, fmt.Errorf("%w: %w", errToolMissing, err)
	}
	return run, err
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - b.buf.Len(); len(p) > room {
		p = p[:max(room, 0)]
		b.over = true
	}
	b.buf.Write(p)
	return n, nil
}

// maxSkew is the slope of text lines (about 1.5°) above which a page is read a second time.
// Tesseract's page layout analysis (--psm 3, the default) drops whole paragraphs of pages
// skewed by 2.5° or more (seen with tesseract 5.3 on the generated letters); as one block of
// text (--psm 6) it follows skewed lines, but it merges columns, so it is only the fallback.
const maxSkew = 0.026

// ocr reads one image file: page is the page of a multi-page TIFF (from 0), or -1 for the
// only one. It runs tesseract once with TSV output, which also gives the skew of the text
// lines, and once more as a single block when the page is skewed. The caller holds a slot.
func (x *textExtractor) ocr(ctx context.Context, image string, page, dpi int) (string, bool, error) {
	run, err := x.tesseract(ctx, image, page, dpi, "3", "tsv")
	if err != nil {
		return "", false, err
	}
	text, skew := parseTSV(run.stdout)
	if math.Abs(skew) <= maxSkew {
		return text, run.truncated, nil
	}
	if run, err = x.tesseract(ctx, image, page, dpi, "6"); err != nil {
		return "", false, err
	}
	return string(run.stdout), run.truncated, nil
}

// tesseract runs tesseract on one image with the page segmentation mode psm and optional
// configs (e.g. "tsv"); the text goes to stdout.
func (x *textExtractor) tesseract(ctx context.Context, image string, page, dpi int, psm string, configs ...string) (toolRun, error) {
	args := []string{image, "stdout", "-l", x.opt.Lang, "--dpi", strconv.Itoa(dpi), "--psm", psm}
	if page >= 0 {
		args = append(args, "-c", "tessedit_page_number="+strconv.Itoa(page))
	}
	run, err := runTool(ctx, maxPageTextBytes, x.opt.Tesseract, append(args, configs...)...)
	if err != nil {
		return run, fmt.Errorf("running tesseract: %w", err)
	}
	return run, nil
}

// parseTSV rebuilds the text from tesseract's TSV output (words by block, paragraph and
// line) and estimates the page's skew: the median slope of the lines that span 500 pixels.
func parseTSV(tsv []byte) (string, float64) {
	var b strings.Builder
	var slopes []float64
	var line []wordBox
	lastPar, lastLine := "", ""
	for _, row := range strings.Split(string(tsv), "\n") {
		f := strings.Split(row, "\t")
		if len(f) != 12 || f[0] != "5" || strings.TrimSpace(f[11]) == "" {
			continue
		}
		par, ln := f[2]+"."+f[3], f[2]+"."+f[3]+"."+f[4]
		switch {
		case b.Len() == 0:
		case par != lastPar:
			b.WriteString("\n\n")
		case ln != lastLine:
			b.WriteString("\n")
		default:
			b.WriteString(" ")
		}
		if ln != lastLine {
			slopes = appendSlope(slopes, line)
			line = line[:0]
		}
		lastPar, lastLine = par, ln
		b.WriteString(f[11])
		line = append(line, parseWordBox(f[6:10]))
	}
	slopes = appendSlope(slopes, line)
	if len(slopes) == 0 {
		return b.String(), 0
	}
	slices.Sort(slopes)
	return b.String(), slopes[len(slopes)/2]
}

// wordBox is the centre of a word's bounding box.
type wordBox struct{ x, y float64 }

func parseWordBox(f []string) wordBox {
	var v [4]float64
	for i := range v {
		v[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return wordBox{x: v[0] + v[2]/2, y: v[1] + v[3]/2}
}

// appendSlope adds the least-squares slope of a line of three or more words spanning 500
// pixels or more.
func appendSlope(slopes []float64, words []wordBox) []float64 {
	if len(words) < 3 || words[len(words)-1].x-words[0].x < 500 {
		return slopes
	}
	var sx, sy, sxx, sxy float64
	for _, w := range words {
		sx, sy, sxx, sxy = sx+w.x, sy+w.y, sxx+w.x*w.x, sxy+w.x*w.y
	}
	n := float64(len(words))
	d := n*sxx - sx*sx
	if d == 0 {
		return slopes
	}
	return append(slopes, (n*sxy-sx*sy)/d)
}

// extractImage OCRs a TIFF (every page, up to the cap), PNG or JPEG scan. Tesseract reads a
// multi-page TIFF itself, but one page after another in one thread; so each page is a job of
// its own (-c tessedit_page_number, which reads only that directory) and pages run in
// parallel without splitting the file.
func (x *textExtractor) extractImage(ctx context.Context, path string, format string, r *textResult) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening scan: %w", err)
	}
	pages := imagePages(f, format)
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing scan: %w", err)
	}
	r.setPages(len(pages), true, x.opt.MaxPages)
	if x.opt.Tesseract == "" {
		r.addNote(noteNoTesseract)
		return nil
	}
	jobs := make([]pageJob, r.toRead())
	for i := range jobs {
		p, tiffPage := pages[i], i
		if len(pages) == 1 {
			tiffPage = -1
		}
		jobs[i] = pageJob{page: i, run: func(ctx context.Context) (string, bool, error) {
			if p.width*p.height > maxOCRPixels {
				return "", false, errPageTooLarge
			}
			return x.ocr(ctx, path, tiffPage, p.ocrDPI())
		}}
	}
	x.runPages(ctx, r, jobs)
	return nil
}

// errPageTooLarge marks a page image that is too large to OCR.
var errPageTooLarge = errors.New("page image too large")

// A pageJob produces the text of one page (from 0); it runs holding a worker slot.
type pageJob struct {
	page int
	run  func(ctx context.Context) (text string, truncated bool, err error)
}

// runPages runs the jobs in parallel, each holding one of the extractor's worker slots, and
// records their text or failure in r. It returns when all have finished or ctx has ended.
func (x *textExtractor) runPages(ctx context.Context, r *textResult, jobs []pageJob) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			select {
			case x.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-x.slots }()
			if ctx.Err() != nil {
				return
			}
			start := time.Now()
			text, truncated, err := j.run(ctx)
			if err != nil && ctx.Err() != nil {
				return // the time limit or shutdown; extract notes it
			}
			x.observePage(err, time.Since(start))
			r.setPage(j.page, text, truncated, err)
		})
	}
	wg.Wait()
}

// observePage reports one page's outcome to the metrics, if any: a fixed word, never the
// error text.
func (x *textExtractor) observePage(err error, d time.Duration) {
	if x.opt.Metrics == nil {
		return
	}
	outcome := "ok"
	switch {
	case errors.Is(err, errPageTooLarge):
		outcome = "too_large"
	case err != nil:
		outcome = "failed"
	}
	x.opt.Metrics.OCRPage(outcome, d)
}
