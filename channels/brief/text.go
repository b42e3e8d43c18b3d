package brief

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/instroom/instroom/ingest"
)

// ocrOptions configure text extraction. Zero values get defaults.
type ocrOptions struct {
	Tesseract string                // path of tesseract (default: looked up in PATH)
	PDFToText string                // pdftotext (default PATH); pdfinfo is looked up beside it, else in PATH
	PDFToPPM  string                // pdftoppm, to render PDF pages without a text layer (default PATH)
	Lang      string                // tesseract language, default "nld"
	MaxPages  int                   // page cap per letter (default 50); pages beyond it are not read (note)
	Timeout   time.Duration         // time limit per letter, waiting for workers included (default 5m)
	Workers   int                   // pages OCR'd at once across the whole process (default runtime.NumCPU())
	TempDir   string                // for rendered pages (default os.TempDir())
	Metrics   ingest.ChannelMetrics // receives every page's outcome and time (nil: not measured)
}

// textExtractor extracts the text of scans: the PDF text layer where a page has one, else OCR
// with tesseract, one thread per process. It is safe for concurrent use and runs at most
// Workers page jobs (tesseract, or pdftoppm then tesseract) at once, across all letters.
type textExtractor struct {
	opt     ocrOptions
	pdfInfo string        // pdfinfo, for the page count and page sizes; "" when missing
	slots   chan struct{} // the worker semaphore
}

// newTextExtractor fills in defaults and looks up the tools; a missing tool is not an error
// here (available reports it, and extract notes it per letter). It starts no process.
func newTextExtractor(o ocrOptions) *textExtractor {
	o.Tesseract = lookTool(o.Tesseract, "tesseract")
	o.PDFToText = lookTool(o.PDFToText, "pdftotext")
	o.PDFToPPM = lookTool(o.PDFToPPM, "pdftoppm")
	if o.Lang == "" {
		o.Lang = "nld"
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 50
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = goruntime.NumCPU()
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if abs, err := filepath.Abs(o.TempDir); err == nil {
		o.TempDir = abs // rendered pages are tool arguments: never relative, never "-…"
	}
	x := &textExtractor{opt: o, slots: make(chan struct{}, o.Workers)}
	if o.PDFToText != "" { // poppler-utils installs them side by side
		if x.pdfInfo = lookTool(filepath.Join(filepath.Dir(o.PDFToText), "pdfinfo"), ""); x.pdfInfo == "" {
			x.pdfInfo = lookTool("", "pdfinfo")
		}
	}
	return x
}

// lookTool resolves a configured path, or name in PATH when none is configured; "" when it
// is not an executable file (a configured path that is wrong is not replaced by another).
func lookTool(path, name string) string {
	if path == "" {
		path = name
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return ""
	}
	return p
}

// available reports which tools are installed (for start-up logs and tests).
func (x *textExtractor) available() (tesseract, pdftotext bool) {
	return x.opt.Tesseract != "", x.opt.PDFToText != ""
}

// extract returns the text of the scan at path (a spool file of the caller's making), given
// its format from scanFormat, and the number of pages the scan has (0 when unknown). PDF pages
// with a text layer give that text; other pages, and TIFF, PNG and JPEG scans, are OCR'd in
// parallel. It never fails the letter: problems (a tool missing, the time limit, a corrupt or
// encrypted PDF, the page cap) come back as notes in Dutch for the KCC colleague, without
// file names or content, with whatever text was found. err is only ctx's (shutdown) or an
// I/O error of the spool or the temporary directory.
func (x *textExtractor) extract(ctx context.Context, path, format string) (text string, pages int, notes []string, err error) {
	abs, err := filepath.Abs(path) // never starts with "-", so no tool reads it as an option
	if err != nil {
		return "", 0, nil, fmt.Errorf("resolving spool path: %w", err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", 0, nil, fmt.Errorf("reading spool file: %w", err)
	}
	r := &textResult{}
	lctx, cancel := context.WithTimeout(ctx, x.opt.Timeout)
	defer cancel()
	switch {
	case info.Size() == 0:
		r.addNote(noteEmpty)
	case format == mediaPDF:
		err = x.extractPDF(lctx, abs, r)
	case format == mediaTIFF, format == mediaPNG, format == mediaJPEG:
		err = x.extractImage(lctx, abs, format, r)
	default:
		r.addNote(noteUnknownFormat)
	}
	if ctx.Err() != nil {
		return "", 0, nil, ctx.Err()
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return "", 0, nil, err
	}
	text, notes = r.finish(lctx.Err() != nil, x.opt.Timeout)
	return text, r.total, notes, nil
}

// Notes for the KCC colleague: Dutch, without file names or content.
const (
	noteEmpty         = "Het scanbestand is leeg; er is geen tekst gelezen."
	noteUnknownFormat = "Het bestandsformaat van de scan is niet herkend; er is geen tekst gelezen."
	noteNoTesseract   = "Tekstherkenning (OCR) is niet beschikbaar; de tekst van de scan is niet gelezen."
	noteNoPDFTools    = "PDF-tekstextractie is niet beschikbaar; de tekst van de PDF is niet gelezen."
	noteNoOCRForPDF   = "Tekstherkenning (OCR) is niet beschikbaar; pagina's zonder tekstlaag zijn niet gelezen."
	notePDFPassword   = "De PDF is met een wachtwoord beveiligd; de tekst kon niet worden gelezen."
	notePDFDamaged    = "De PDF is beschadigd of onleesbaar; de tekst kon niet worden gelezen."
	noteNoText        = "Er is geen tekst in de scan gevonden."
	noteTruncated     = "De tekst van de scan is langer dan 20 MB en is ingekort."
)

// textResult collects the pages of one letter; pages are set concurrently.
type textResult struct {
	mu        sync.Mutex
	total     int      // pages in the scan; 0 when unknown
	texts     []string // per page read, up to the cap
	done      []bool
	failed    []int // pages (from 1) whose text could not be read
	tooLarge  []int
	missing   bool // tesseract or pdftoppm could not be started
	truncated bool
	notes     []string
}

// setPages records the page count (known or not) and plans to read up to limit of them;
// a count over the limit gets the page-cap note.
func (r *textResult) setPages(n int, known bool, limit int) {
	read := min(n, limit)
	switch {
	case n > limit && known:
		r.addNote(fmt.Sprintf("De scan heeft %d pagina's; alleen de eerste %d zijn gelezen.", n, limit))
	case n > limit:
		r.addNote(fmt.Sprintf("De scan heeft meer dan %d pagina's; alleen de eerste %d zijn gelezen.", limit, limit))
	}
	if known {
		r.total = n
	}
	r.texts, r.done = make([]string, read), make([]bool, read)
}

func (r *textResult) toRead() int { return len(r.texts) }

func (r *textResult) addNote(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, s)
}

// setPage records a page's text, or why it has none.
func (r *textResult) setPage(i int, text string, truncated bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case errors.Is(err, errToolMissing):
		r.missing = true
	case errors.Is(err, errPageTooLarge):
		r.tooLarge = append(r.tooLarge, i+1)
	case err != nil:
		r.failed = append(r.failed, i+1)
	default:
		r.texts[i], r.done[i] = text, true
		r.truncated = r.truncated || truncated
	}
}

// finish joins the pages read and completes the notes.
func (r *textResult) finish(timedOut bool, limit time.Duration) (string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	read := 0
	for i, t := range r.texts {
		if r.done[i] {
			read++
		}
		if t = cleanText(t); t != "" {
			parts = append(parts, t)
		}
	}
	text := strings.Join(parts, "\n\n")
	if len(text) > maxTextBytes {
		text, r.truncated = cutUTF8(text, maxTextBytes), true
	}
	notes := r.notes
	switch {
	case timedOut && len(r.texts) == 0:
		notes = append(notes, fmt.Sprintf("Het lezen van de tekst is na %s afgebroken; er is geen tekst gelezen.", durationNL(limit)))
	case timedOut && read < len(r.texts):
		notes = append(notes, fmt.Sprintf("Het lezen van de tekst is na %s afgebroken; %d van de %d pagina's zijn gelezen.",
			durationNL(limit), read, len(r.texts)))
	}
	if r.missing {
		notes = append(notes, noteNoTesseract)
	}
	if len(r.failed) > 0 {
		notes = append(notes, fmt.Sprintf("De tekstherkenning is mislukt voor %s; die tekst ontbreekt.", pageList(r.failed)))
	}
	if len(r.tooLarge) > 0 {
		notes = append(notes, fmt.Sprintf("De afbeelding is te groot voor tekstherkenning: %s niet gelezen.", pageList(r.tooLarge)))
	}
	if r.truncated {
		notes = append(notes, noteTruncated)
	}
	if text == "" && len(notes) == 0 {
		notes = append(notes, noteNoText)
	}
	return text, notes
}

// pageList writes sorted page numbers the Dutch way: "pagina 3", "pagina's 2, 4 en 7".
func pageList(pages []int) string {
	pages = slices.Sorted(slices.Values(pages))
	if len(pages) == 1 {
		return fmt.Sprintf("pagina %d", pages[0])
	}
	s := make([]string, len(pages))
	for i, p := range pages {
		s[i] = fmt.Sprint(p)
	}
	return "pagina's " + strings.Join(s[:len(s)-1], ", ") + " en " + s[len(s)-1]
}

// durationNL writes a time limit in Dutch: "5 minuten", "1 minuut", "30 seconden".
func durationNL(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		if d == time.Minute {
			return "1 minuut"
		}
		return fmt.Sprintf("%d minuten", d/time.Minute)
	case d >= time.Second:
		return fmt.Sprintf("%d seconden", (d+time.Second/2)/time.Second)
	}
	return fmt.Sprintf("%d milliseconden", max(d.Milliseconds(), 1))
}

// cleanText makes tool output fit for an informatieobject: valid UTF-8, no control characters
// but newline and tab, no trailing spaces, at most one empty line in a row, trimmed.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\f' || r == '\v':
			return '\n'
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// cutUTF8 cuts s to at most n bytes on a rune boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
