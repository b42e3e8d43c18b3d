package brief

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	xtiff "golang.org/x/image/tiff"

	"github.com/instroom/instroom/ingest/ingesttest"
)

func TestScanFormat(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"%PDF-1.7\n", mediaPDF},
		{"II*\x00\x08\x00\x00\x00", mediaTIFF},
		{"MM\x00*\x00\x00\x00\x08", mediaTIFF},
		{"\x89PNG\r\n\x1a\n", mediaPNG},
		{"\xFF\xD8\xFF\xE0", mediaJPEG},
		{"", ""},
		{"%PDF", ""},
		{"\x89PNG\r\n", ""},
		{"II+\x00", ""}, // BigTIFF
		{"GIF89a", ""},
		{" %PDF-1.4", ""},
	}
	for _, tc := range tests {
		if got := scanFormat([]byte(tc.in)); got != tc.want {
			t.Errorf("scanFormat(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestImagePages(t *testing.T) {
	small := image.NewGray(image.Rect(0, 0, 120, 80))
	a4 := image.NewGray(image.Rect(0, 0, pageW, pageH))
	var x72 bytes.Buffer
	if err := xtiff.Encode(&x72, a4, nil); err != nil { // writes a placeholder 72 dpi
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		pages   int
		w, h    int
		ocrDPI  int
		statDPI int
	}{
		{"png 300 dpi", encodePNG(t, small, 300), 1, 120, 80, 300, 300},
		{"png without dpi", encodePNG(t, small, 0), 1, 120, 80, 300, 0},
		{"png 150 dpi", encodePNG(t, small, 150), 1, 120, 80, 150, 150},
		{"jpeg jfif 200 dpi", encodeJPEG(t, small, 80, 200), 1, 120, 80, 200, 200},
		{"jpeg without dpi", encodeJPEG(t, small, 80, 0), 1, 120, 80, 300, 0},
		{"tiff 3 pages 400 dpi", encodeTIFF(t, []*image.Gray{small, small, small}, 400), 3, 120, 80, 400, 400},
		{"tiff without dpi", encodeTIFF(t, []*image.Gray{small}, 0), 1, 120, 80, 300, 0},
		{"a4 tiff with placeholder 72 dpi", x72.Bytes(), 1, pageW, pageH, 300, 72},
		{"garbage tiff", []byte("II*\x00\xff\xff\xff\x7f"), 1, 0, 0, 300, 0},
		{"tiff with a loop", []byte("II*\x00\x08\x00\x00\x00\x00\x00\x08\x00\x00\x00"), 1, 0, 0, 300, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pages := imagePages(bytes.NewReader(tc.data), scanFormat(tc.data))
			if len(pages) != tc.pages {
				t.Fatalf("imagePages() = %d pages, want %d", len(pages), tc.pages)
			}
			p := pages[len(pages)-1]
			if p.width != tc.w || p.height != tc.h || int(p.dpi+0.5) != tc.statDPI || p.ocrDPI() != tc.ocrDPI {
				t.Errorf("imagePages() = %+v (ocrDPI %d), want %dx%d at %d dpi (ocrDPI %d)", p, p.ocrDPI(), tc.w, tc.h, tc.statDPI, tc.ocrDPI)
			}
		})
	}
}

// FuzzImagePages feeds arbitrary bytes to the header parsers: no panic, at least one page.
func FuzzImagePages(f *testing.F) {
	small := image.NewGray(image.Rect(0, 0, 16, 16))
	f.Add(encodePNG(f, small, 300))
	f.Add(encodeJPEG(f, small, 50, 300))
	f.Add(encodeTIFF(f, []*image.Gray{small, small}, 300))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x00\x00\x03\x00\x00\x00\x01\x00\x10\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		format := scanFormat(data)
		if format == "" || format == mediaPDF {
			format = []string{mediaTIFF, mediaPNG, mediaJPEG}[len(data)%3]
		}
		pages := imagePages(bytes.NewReader(data), format)
		if len(pages) == 0 {
			t.Fatalf("imagePages(%q) = no pages", data)
		}
		for _, p := range pages {
			if d := p.ocrDPI(); d < minDPI || d > maxDPI {
				t.Fatalf("ocrDPI() = %d, want %d–%d", d, minDPI, maxDPI)
			}
		}
	})
}

func TestParseTSV(t *testing.T) {
	const head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
	row := func(block, par, line, left, top int, word string) string {
		return fmt.Sprintf("5\t1\t%d\t%d\t%d\t1\t%d\t%d\t100\t40\t96.5\t%s\n", block, par, line, left, top, word)
	}
	level4 := "4\t1\t1\t1\t1\t0\t0\t0\t900\t40\t-1\t\n"
	straight := head + level4 + row(1, 1, 1, 0, 100, "Geachte") + row(1, 1, 1, 400, 102, "heer,") + row(1, 1, 1, 800, 100, "mevrouw") +
		row(1, 1, 2, 0, 160, "tweede") + row(1, 1, 2, 150, 160, "regel") + row(1, 2, 1, 0, 260, "Nieuwe") + row(2, 1, 1, 0, 400, "Blok") +
		row(2, 1, 1, 100, 400, " ")
	skewed := head + row(1, 1, 1, 0, 100, "a") + row(1, 1, 1, 400, 120, "b") + row(1, 1, 1, 800, 140, "c")
	tests := []struct {
		name     string
		in       string
		text     string
		skewOver bool
	}{
		{"straight", straight, "Geachte heer, mevrouw\ntweede regel\n\nNieuwe\n\nBlok", false},
		{"skewed 2.9 degrees", skewed, "a b c", true},
		{"empty", "", "", false},
		{"garbage", "5\t\t\n\t\t\t", "", false},
	}
	for _, tc := range tests {
		text, skew := parseTSV([]byte(tc.in))
		if text != tc.text || (skew > maxSkew) != tc.skewOver {
			t.Errorf("parseTSV(%s) = %q, skew %.3f; want %q, skew over %.3f: %v", tc.name, text, skew, tc.text, maxSkew, tc.skewOver)
		}
	}
}

func FuzzParseTSV(f *testing.F) {
	f.Add([]byte("5\t1\t1\t1\t1\t1\t10\t10\t5\t5\t90\tword\n5\t1\t1\t1\t1\t2\t600\t30\t5\t5\t90\tnext\n"))
	f.Fuzz(func(t *testing.T, tsv []byte) {
		text, skew := parseTSV(tsv)
		if !utf8.ValidString(text) && utf8.Valid(tsv) {
			t.Fatalf("parseTSV(%q) = invalid UTF-8 %q", tsv, text)
		}
		_ = skew
	})
}

func TestCleanText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  a  \n\n\n\nb\f\fc\x00d\r\n", "a\n\nb\n\ncd"},
		{"\xffé", "\uFFFDé"},
		{"\n \t\n", ""},
	}
	for _, tc := range tests {
		if got := cleanText(tc.in); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNotesText(t *testing.T) {
	if got, want := pageList([]int{7, 2, 4}), "pagina's 2, 4 en 7"; got != want {
		t.Errorf("pageList(7, 2, 4) = %q, want %q", got, want)
	}
	if got, want := pageList([]int{3}), "pagina 3"; got != want {
		t.Errorf("pageList(3) = %q, want %q", got, want)
	}
	for d, want := range map[time.Duration]string{5 * time.Minute: "5 minuten", time.Minute: "1 minuut",
		90 * time.Second: "90 seconden", 50 * time.Millisecond: "50 milliseconden"} {
		if got := durationNL(d); got != want {
			t.Errorf("durationNL(%v) = %q, want %q", d, got, want)
		}
	}
	if got, want := cutUTF8("ééé", 3), "é"; got != want {
		t.Errorf("cutUTF8(ééé, 3) = %q, want %q", got, want)
	}
}

// needOCRTools skips (locally) or fails (CI=true) when tesseract with Dutch, pdftotext,
// pdfinfo or pdftoppm is missing.
func needOCRTools(t testing.TB) {
	t.Helper()
	for _, name := range []string{"pdftotext", "pdfinfo", "pdftoppm"} {
		ingesttest.Need(t, name)
	}
	out, err := exec.Command(ingesttest.Need(t, "tesseract"), "--list-langs").CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("\nnld")) {
		return
	}
	if ingesttest.InCI() {
		t.Fatal("tesseract has no Dutch language data; .ci/run must install tesseract-ocr-nld")
	}
	t.Skip("tesseract has no Dutch language data (tesseract-ocr-nld); skipping")
}

// writeScan writes data to a file in dir and returns its path.
func writeScan(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// extractFile runs extract on the file, with its format from its first bytes, and checks
// what holds for every letter: no error, and notes that name neither the file nor the text.
func extractFile(t *testing.T, x *textExtractor, path string) (string, int, []string) {
	t.Helper()
	head := make([]byte, 8)
	if f, err := os.Open(path); err == nil {
		n, _ := f.Read(head)
		head = head[:n]
		f.Close()
	}
	text, pages, notes, err := x.extract(context.Background(), path, scanFormat(head))
	if err != nil {
		t.Fatalf("extract(%s) error = %v, want none", filepath.Base(path), err)
	}
	for _, n := range notes {
		if strings.Contains(n, filepath.Base(path)) || strings.Contains(n, filepath.Dir(path)) {
			t.Errorf("extract(%s) note %q names the file", filepath.Base(path), n)
		}
		for _, l := range testLetters {
			if strings.Contains(n, l.signature) || strings.Contains(n, l.subject) {
				t.Errorf("extract(%s) note %q quotes the letter", filepath.Base(path), n)
			}
		}
	}
	return text, pages, notes
}

// TestExtractLetters reads generated letters in every format and measures OCR word accuracy
// against the source text: at least 95% on clean scans, and (near) exact for a text layer.
func TestExtractLetters(t *testing.T) {
	needOCRTools(t)
	dir := t.TempDir()
	x := newTextExtractor(ocrOptions{})
	imgs := make([]*image.Gray, len(testLetters))
	for i, l := range testLetters {
		imgs[i] = renderLetter(t, l)
	}
	src := func(idx ...int) string {
		var s []string
		for _, i := range idx {
			s = append(s, testLetters[i].text())
		}
		return strings.Join(s, "\n")
	}
	var x72 bytes.Buffer
	if err := xtiff.Encode(&x72, imgs[1], &xtiff.Options{Compression: xtiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	textPDF := newPDF()
	textPDF.textPage(pdfLines(testLetters[0]))
	textPDF.textPage(pdfLines(testLetters[1]))
	imagePDF := newPDF()
	imagePDF.imagePage(encodeJPEG(t, imgs[2], 85, 0), pageW, pageH)
	rotatedPDF := newPDF()
	rotatedPDF.imagePage(encodeJPEG(t, rotateGray(imgs[2], -3), 85, 0), pageW, pageH)
	mixedPDF := newPDF()
	mixedPDF.textPage(pdfLines(testLetters[3]))
	mixedPDF.imagePage(encodeJPEG(t, imgs[0], 85, 0), pageW, pageH)

	tests := []struct {
		name    string
		data    []byte
		source  string
		pages   int
		min     float64
		rotated bool // reported; the floor is lower
	}{
		{"png 300 dpi", encodePNG(t, imgs[0], 300), src(0), 1, 0.95, false},
		{"png without dpi", encodePNG(t, imgs[1], 0), src(1), 1, 0.95, false},
		{"jpeg q90 300 dpi", encodeJPEG(t, imgs[2], 90, 300), src(2), 1, 0.95, false},
		{"jpeg q90 without dpi", encodeJPEG(t, imgs[3], 90, 0), src(3), 1, 0.95, false},
		{"tiff 300 dpi", encodeTIFF(t, imgs[:1], 300), src(0), 1, 0.95, false},
		{"tiff placeholder 72 dpi", x72.Bytes(), src(1), 1, 0.95, false},
		{"tiff 4 pages without dpi", encodeTIFF(t, imgs, 0), src(0, 1, 2, 3), 4, 0.95, false},
		{"pdf image only", imagePDF.bytes(), src(2), 1, 0.95, false},
		{"pdf text layer", textPDF.bytes(), src(0, 1), 2, 1, false},
		{"pdf text layer and image page", mixedPDF.bytes(), src(3, 0), 2, 0.95, false},
		{"png rotated 2.5 degrees", encodePNG(t, rotateGray(imgs[3], 2.5), 300), src(3), 1, 0.90, true},
		{"tiff rotated -2 degrees", encodeTIFF(t, []*image.Gray{rotateGray(imgs[1], -2)}, 300), src(1), 1, 0.90, true},
		{"jpeg rotated 3 degrees", encodeJPEG(t, rotateGray(imgs[0], 3), 90, 300), src(0), 1, 0.90, true},
		{"pdf image rotated -3 degrees", rotatedPDF.bytes(), src(2), 1, 0.90, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // one extractor: pages share its workers
			path := writeScan(t, dir, fmt.Sprintf("scan-%d", i), tc.data)
			text, pages, notes := extractFile(t, x, path)
			acc := wordAccuracy(tc.source, text)
			t.Logf("%s: word accuracy %.1f%% (%d source words), notes %q", tc.name, 100*acc, len(normWords(tc.source)), notes)
			if pages != tc.pages {
				t.Errorf("extract() pages = %d, want %d", pages, tc.pages)
			}
			if len(notes) != 0 {
				t.Errorf("extract() notes = %q, want none", notes)
			}
			if acc < tc.min {
				t.Errorf("extract() word accuracy = %.3f, want ≥ %.2f; missing %q", acc, tc.min, missingWords(tc.source, text))
			}
		})
	}
}

type badCase struct {
	name      string
	opt       ocrOptions
	data      []byte
	wantNote  string // a note contains it; "" means no notes
	wantText  string // the text contains it
	notText   string // the text does not contain it
	wantPages int
}

// TestExtractBadInput: bad scans never fail the letter; they come back as notes.
func TestExtractBadInput(t *testing.T) {
	needOCRTools(t)
	dir := t.TempDir()
	good := newPDF()
	good.textPage(pdfLines(testLetters[0]))
	goodPDF := good.bytes()
	enc := newPDF()
	enc.encrypt = true
	enc.textPage(pdfLines(testLetters[0]))
	long := newPDF()
	for p := 1; p <= 500; p++ {
		long.textPage(append(pdfLines(testLetters[p%len(testLetters)]), "", fmt.Sprintf("Pagina %d van 500", p)))
	}
	png := encodePNG(t, renderLetter(t, testLetters[1]), 300)

	tests := []badCase{
		{name: "corrupt pdf", data: goodPDF[:300], wantNote: notePDFDamaged},
		{name: "pdf header only", data: []byte("%PDF-1.4\n"), wantNote: notePDFDamaged},
		{name: "encrypted pdf", data: enc.bytes(), wantNote: notePDFPassword},
		{name: "zero bytes", data: nil, wantNote: noteEmpty},
		{name: "unknown format", data: []byte("GIF89a, no scan"), wantNote: noteUnknownFormat},
		{name: "broken png", data: append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...),
			wantNote: "mislukt voor pagina 1", wantPages: 1},
		{name: "500 pages, cap 50", opt: ocrOptions{MaxPages: 50}, data: long.bytes(),
			wantNote: "De scan heeft 500 pagina's; alleen de eerste 50 zijn gelezen.",
			wantText: "Pagina 50 van 500", notText: "Pagina 51 van 500", wantPages: 500},
		{name: "time limit", opt: ocrOptions{Timeout: 50 * time.Millisecond}, data: png,
			wantNote: "is na 50 milliseconden afgebroken", wantPages: 1},
		{name: "tesseract missing", opt: ocrOptions{Tesseract: filepath.Join(dir, "no-tesseract")}, data: png,
			wantNote: noteNoTesseract, wantPages: 1},
		{name: "pdftotext missing", opt: ocrOptions{PDFToText: filepath.Join(dir, "no-pdftotext")}, data: goodPDF,
			wantNote: noteNoPDFTools},
	}
	if qpdf, err := exec.LookPath("qpdf"); err == nil {
		plain := writeScan(t, dir, "plain.pdf", goodPDF)
		for _, c := range []struct{ name, user, note, text string }{
			{"qpdf user password", "geheim", notePDFPassword, ""},
			{"qpdf owner password only", "", "", "afvalstoffenheffing"},
		} {
			out := filepath.Join(dir, c.name)
			if b, err := exec.Command(qpdf, "--encrypt", c.user, "eigenaar", "256", "--", plain, out).CombinedOutput(); err != nil {
				t.Fatalf("qpdf: %v: %s", err, b)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			tests = append(tests, badCase{name: c.name, data: data, wantNote: c.note, wantText: c.text, wantPages: map[bool]int{true: 1}[c.text != ""]})
		}
	} else {
		t.Log("qpdf not installed: PDFs encrypted with AES-256 not tested (the hand-written /Encrypt one is)")
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newTextExtractor(tc.opt)
			text, pages, notes := extractFile(t, x, writeScan(t, dir, fmt.Sprintf("bad-%d", i), tc.data))
			if tc.wantNote != "" && !strings.Contains(strings.Join(notes, "|"), tc.wantNote) {
				t.Errorf("extract() notes = %q, want one with %q", notes, tc.wantNote)
			}
			if tc.wantNote == "" && len(notes) != 0 {
				t.Errorf("extract() notes = %q, want none", notes)
			}
			if !strings.Contains(text, tc.wantText) || tc.notText != "" && strings.Contains(text, tc.notText) {
				t.Errorf("extract() text has %q: %v, has %q: %v", tc.wantText, strings.Contains(text, tc.wantText),
					tc.notText, tc.notText != "" && strings.Contains(text, tc.notText))
			}
			if pages != tc.wantPages {
				t.Errorf("extract() pages = %d, want %d", pages, tc.wantPages)
			}
		})
	}
}

// TestExtractErrors: only shutdown and spool I/O errors are errors.
func TestExtractErrors(t *testing.T) {
	needOCRTools(t)
	dir := t.TempDir()
	x := newTextExtractor(ocrOptions{})
	if _, _, _, err := x.extract(context.Background(), filepath.Join(dir, "gone"), mediaPNG); err == nil {
		t.Error("extract(missing spool file) error = nil, want one")
	}
	path := writeScan(t, dir, "scan.png", encodePNG(t, renderLetter(t, testLetters[0]), 300))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if _, _, _, err := x.extract(ctx, path, mediaPNG); !errors.Is(err, context.Canceled) {
		t.Errorf("extract(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if tess, pdf := x.available(); !tess || !pdf {
		t.Errorf("available() = %v, %v, want true, true", tess, pdf)
	}
	if tess, pdf := newTextExtractor(ocrOptions{Tesseract: "/nonexistent", PDFToText: "/nonexistent"}).available(); tess || pdf {
		t.Errorf("available(missing tools) = %v, %v, want false, false", tess, pdf)
	}
}
