package brief

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// minTextLayer is how many letters and digits a PDF page's text layer needs to be taken as
// the page's text; pages with less (blank, or a scan with a DMS stamp) are OCR'd.
const minTextLayer = 100

// pdfFacts is what pdfinfo says about a PDF.
type pdfFacts struct {
	pages int                // 0 when unknown
	sizes map[int][2]float64 // page (from 1) → width and height in points
}

// extractPDF reads the text layer of the first MaxPages pages with pdftotext (reading order,
// not -layout: letters read as blocks, and runs of spaces would waste the 1000 characters of
// inhoud), and OCRs the pages without one, rendered by pdftoppm at 300 dpi.
func (x *textExtractor) extractPDF(ctx context.Context, path string, r *textResult) error {
	if x.opt.PDFToText == "" {
		r.addNote(noteNoPDFTools)
		return nil
	}
	facts, note, err := x.pdfFacts(ctx, path)
	if err != nil || note != "" {
		r.addNote(note)
		return err
	}
	last := x.opt.MaxPages + 1 // one more, to learn that there are more
	if facts.pages > 0 {
		last = min(facts.pages, x.opt.MaxPages)
	}
	run, err := runTool(ctx, maxTextBytes, x.opt.PDFToText, "-f", "1", "-l", strconv.Itoa(last), "-enc", "UTF-8", path, "-")
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("running pdftotext: %w", err)
	case errors.Is(err, errToolMissing):
		r.addNote(noteNoPDFTools)
		return nil
	case err != nil:
		r.addNote(pdfNote(run.stderr))
		return nil
	}
	layers := strings.Split(string(run.stdout), "\f") // pdftotext ends every page with \f
	if !run.truncated {
		layers = layers[:len(layers)-1]
	}
	if facts.pages > 0 {
		r.setPages(facts.pages, true, x.opt.MaxPages)
	} else {
		r.setPages(len(layers), len(layers) <= x.opt.MaxPages && !run.truncated, x.opt.MaxPages)
	}
	if r.toRead() == 0 {
		r.addNote(notePDFDamaged)
		return nil
	}
	r.truncated = run.truncated
	return x.ocrPDFPages(ctx, path, facts, layers, r)
}

// ocrPDFPages takes each page's text layer when it has one and OCRs the others.
func (x *textExtractor) ocrPDFPages(ctx context.Context, path string, facts pdfFacts, layers []string, r *textResult) error {
	layer := func(i int) string {
		if i < len(layers) {
			return layers[i]
		}
		return ""
	}
	var need []int
	for i := range r.toRead() {
		if textRunes(layer(i)) >= minTextLayer || i >= len(layers) && r.truncated {
			r.setPage(i, layer(i), false, nil)
			continue
		}
		need = append(need, i)
	}
	if len(need) == 0 {
		return nil
	}
	if x.opt.Tesseract == "" || x.opt.PDFToPPM == "" {
		r.addNote(noteNoOCRForPDF)
		for _, i := range need {
			r.setPage(i, layer(i), false, nil)
		}
		return nil
	}
	dir, err := os.MkdirTemp(x.opt.TempDir, "instroom-ocr-")
	if err != nil {
		return fmt.Errorf("creating directory for rendered pages: %w", err)
	}
	defer os.RemoveAll(dir)
	jobs := make([]pageJob, len(need))
	for k, i := range need {
		out := filepath.Join(dir, "p"+strconv.Itoa(i+1))
		jobs[k] = pageJob{page: i, run: func(ctx context.Context) (string, bool, error) {
			return x.ocrPDFPage(ctx, path, i+1, facts.sizes[i+1], layer(i), out)
		}}
	}
	x.runPages(ctx, r, jobs)
	return nil
}

// ocrPDFPage renders one page (from 1) with pdftoppm to out+".tif" and OCRs it; layer is
// its thin text layer, kept when OCR finds nothing.
func (x *textExtractor) ocrPDFPage(ctx context.Context, path string, page int, size [2]float64, layer, out string) (string, bool, error) {
	dpi := renderDPI(size)
	if dpi < minDPI {
		return "", false, errPageTooLarge
	}
	n := strconv.Itoa(page)
	// Grey TIFF with LZW: about as fast to write as PGM at a tenth of the size, and far
	// faster than PNG; pdftoppm writes the resolution into it.
	if _, err := runTool(ctx, maxStderrBytes, x.opt.PDFToPPM, "-f", n, "-l", n, "-r", strconv.Itoa(dpi),
		"-gray", "-tiff", "-tiffcompression", "lzw", "-singlefile", path, out); err != nil {
		return "", false, fmt.Errorf("running pdftoppm: %w", err)
	}
	defer os.Remove(out + ".tif")
	text, truncated, err := x.ocr(ctx, out+".tif", -1, dpi)
	if err == nil && strings.TrimSpace(text) == "" {
		text = layer
	}
	return text, truncated, err
}

// renderDPI is 300, or less for a page so large that it would exceed maxOCRPixels.
func renderDPI(size [2]float64) int {
	w, h := size[0], size[1]
	if w <= 0 || h <= 0 || w/72*defaultDPI*h/72*defaultDPI <= maxOCRPixels {
		return defaultDPI
	}
	return int(72 * math.Sqrt(maxOCRPixels/(w*h)))
}

// pdfFacts runs pdfinfo for the page count and the sizes of the pages to read. A note means
// the PDF cannot be read (encrypted, damaged); without pdfinfo the facts are unknown.
func (x *textExtractor) pdfFacts(ctx context.Context, path string) (pdfFacts, string, error) {
	var f pdfFacts
	if x.pdfInfo == "" {
		return f, "", nil
	}
	run, err := runTool(ctx, maxToolInfoBytes, x.pdfInfo, "-f", "1", "-l", strconv.Itoa(x.opt.MaxPages), path)
	switch {
	case ctx.Err() != nil:
		return f, "", fmt.Errorf("running pdfinfo: %w", err)
	case errors.Is(err, errToolMissing):
		return f, "", nil
	case err != nil:
		return f, pdfNote(run.stderr), nil
	}
	f.sizes = map[int][2]float64{}
	for _, line := range strings.Split(string(run.stdout), "\n") {
		fs := strings.Fields(line)
		switch {
		case len(fs) == 2 && fs[0] == "Pages:":
			f.pages, _ = strconv.Atoi(fs[1])
		case len(fs) >= 6 && fs[0] == "Page" && fs[2] == "size:" && fs[4] == "x":
			p, err1 := strconv.Atoi(fs[1])
			w, err2 := strconv.ParseFloat(fs[3], 64)
			h, err3 := strconv.ParseFloat(fs[5], 64)
			if err1 == nil && err2 == nil && err3 == nil {
				f.sizes[p] = [2]float64{w, h}
			}
		}
	}
	return f, "", nil
}

// pdfNote tells an encrypted PDF from a damaged one by poppler's message.
func pdfNote(stderr string) string {
	if strings.Contains(stderr, "Incorrect password") {
		return notePDFPassword
	}
	return notePDFDamaged
}

// textRunes counts the letters and digits of s.
func textRunes(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}
