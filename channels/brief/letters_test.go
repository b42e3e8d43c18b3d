package brief

// A test-only generator of letters: Dutch letters rendered to 300 dpi page images (PNG, JPEG,
// TIFF, rotated) and to minimal hand-written PDFs with and without a text layer. All content is
// synthetic.

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// A testLetter is one synthetic Dutch letter to a municipality.
type testLetter struct {
	sender     []string // top right
	recipient  []string // top left
	date       string
	subject    string // after "Betreft: "
	salutation string
	paragraphs []string
	closing    string
	signature  string
}

// testLetters are the texts the tests render; each has 150–250 words.
var testLetters = []testLetter{
	{
		sender:     []string{"J. de Vries", "Kerkstraat 12", "3511 AB Utrecht"},
		recipient:  []string{"Gemeente Utrecht", "t.a.v. afdeling Belastingen", "Postbus 16200", "3500 CE Utrecht"},
		date:       "Utrecht, 14 maart 2025",
		subject:    "bezwaar tegen aanslag afvalstoffenheffing 2025",
		salutation: "Geachte heer, mevrouw,",
		paragraphs: []string{
			"Op 3 maart ontving ik de aanslag gemeentelijke belastingen voor dit jaar. Daarin wordt mij een afvalstoffenheffing voor een meerpersoonshuishouden in rekening gebracht, terwijl ik sinds augustus vorig jaar alleen woon.",
			"Mijn dochter is toen verhuisd naar Groningen en staat daar ingeschreven. Ik heb de wijziging destijds via het loket doorgegeven en ontving daarvan ook een bevestiging. Een kopie van die brief stuur ik mee.",
			"Ik verzoek u daarom de aanslag te herzien en het tarief voor een eenpersoonshuishouden toe te passen. Het verschil bedraagt volgens mijn berekening ongeveer tachtig euro. Zolang het bezwaar loopt, wil ik graag uitstel van betaling voor dit deel van de aanslag.",
			"Mocht u nog vragen hebben, dan ben ik overdag telefonisch bereikbaar. Ik hoor graag binnen zes weken van u.",
		},
		closing:   "Met vriendelijke groet,",
		signature: "Johanna de Vries",
	},
	{
		sender:     []string{"M. El Amrani", "Dorpsweg 87", "2871 KL Schoonhoven"},
		recipient:  []string{"Gemeente Krimpenerwaard", "Afdeling Openbare Ruimte", "Postbus 5", "2820 AA Stolwijk"},
		date:       "Schoonhoven, 2 april 2025",
		subject:    "losliggende stoeptegels en kapotte straatverlichting",
		salutation: "Beste medewerkers van de gemeente,",
		paragraphs: []string{
			"Al enkele maanden liggen de stoeptegels voor de huisnummers 80 tot en met 95 los. Vorige week is mijn buurvrouw, die slecht ter been is, daar gevallen. Gelukkig liep het goed af, maar ik maak mij zorgen over de veiligheid van ouderen en kinderen.",
			"Daarnaast brandt de lantaarnpaal bij het bushokje al sinds de kerstvakantie niet meer. Het is daardoor 's avonds erg donker op de hoek, juist waar veel scholieren fietsen.",
			"Ik heb beide problemen eerder gemeld via de website, maar ik heb nooit een reactie of een meldingsnummer ontvangen. Wilt u laten weten wanneer de tegels worden rechtgelegd en de verlichting wordt hersteld?",
		},
		closing:   "Met vriendelijke groeten,",
		signature: "Mohamed El Amrani",
	},
	{
		sender:     []string{"A. Bakker-Jansen", "Zuiderlaan 4", "9711 GT Groningen"},
		recipient:  []string{"Gemeente Groningen", "Team Parkeren", "Postbus 30026", "9700 RM Groningen"},
		date:       "Groningen, 21 februari 2025",
		subject:    "aanvraag tijdelijke ontheffing parkeervergunning",
		salutation: "Geachte heer, mevrouw,",
		paragraphs: []string{
			"Vanaf 10 maart wordt onze woning gedurende zes weken verbouwd. De aannemer heeft een bestelbus nodig die dagelijks voor de deur moet staan om materiaal te laden en te lossen.",
			"In onze straat geldt vergunninghouders parkeren. Wij hebben zelf één vergunning voor onze eigen auto, maar de bus van de aannemer valt daar niet onder. Daarom vraag ik een tijdelijke ontheffing aan voor het kenteken dat ik hieronder vermeld.",
			"Het kenteken van de bestelbus is VX-123-B. De werkzaamheden vinden plaats op werkdagen tussen half acht en vijf uur. De buren zijn op de hoogte gebracht en hebben geen bezwaar.",
			"Graag ontvang ik een bevestiging per post, omdat ik geen gebruik maak van internet. De kosten van de ontheffing betaal ik uiteraard.",
		},
		closing:   "Hoogachtend,",
		signature: "Anneke Bakker-Jansen",
	},
	{
		sender:     []string{"P. van den Berg", "Molenpad 31", "6811 CV Arnhem"},
		recipient:  []string{"Gemeente Arnhem", "Werk en Inkomen", "Postbus 9029", "6800 EL Arnhem"},
		date:       "Arnhem, 9 januari 2025",
		subject:    "verzoek om kwijtschelding en bijzondere bijstand",
		salutation: "Geachte mevrouw, heer,",
		paragraphs: []string{
			"Sinds november ben ik werkloos en ontvang ik een uitkering. Mijn inkomen is daardoor flink gedaald, terwijl de vaste lasten gelijk zijn gebleven. Ik kan de gemeentelijke belastingen voor dit jaar daarom niet betalen.",
			"Ik vraag u vriendelijk om kwijtschelding van de aanslag. Ook wil ik weten of ik in aanmerking kom voor bijzondere bijstand voor een nieuwe wasmachine, omdat de oude niet meer te repareren is.",
			"Bij deze brief voeg ik kopieën van mijn bankafschriften, de beschikking van mijn uitkering en de huurovereenkomst. Als u meer gegevens nodig hebt, hoor ik dat graag.",
		},
		closing:   "Met vriendelijke groet,",
		signature: "Pieter van den Berg",
	},
}

// body returns the letter's lines in reading order, before wrapping; the first
// len(sender) lines are the sender block.
func (l testLetter) body() []string {
	out := append([]string{}, l.sender...)
	out = append(out, "")
	out = append(out, l.recipient...)
	out = append(out, "", l.date, "", "Betreft: "+l.subject, "", l.salutation, "")
	for _, p := range l.paragraphs {
		out = append(out, p, "")
	}
	return append(out, l.closing, "", "", l.signature)
}

// text is the letter's source text, to compare extracted text with.
func (l testLetter) text() string { return strings.Join(l.body(), "\n") }

// Page geometry at 300 dpi: A4 is 2480 × 3508 pixels.
const (
	pageW, pageH = 2480, 3508
	pageDPI      = 300
)

// renderLetter draws the letter on a white A4 page at 300 dpi in Go Regular 11 pt; extra
// lines (e.g. a page marker) go at the bottom.
func renderLetter(t testing.TB, l testLetter, extra ...string) *image.Gray {
	t.Helper()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 11, DPI: pageDPI, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	img := image.NewGray(image.Rect(0, 0, pageW, pageH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.Black, Face: face}
	const left, right, top = 250, pageW - 250, 300
	lineH := face.Metrics().Height.Ceil() * 5 / 4
	y := top
	put := func(x int, s string) {
		d.Dot = fixed.P(x, y)
		d.DrawString(s)
		y += lineH
	}
	for _, s := range l.sender {
		put(1600, s)
	}
	y += lineH
	for _, s := range l.body()[len(l.sender)+1:] {
		for _, w := range wrapWords(s, func(s string) bool { return d.MeasureString(s).Ceil() <= right-left }) {
			put(left, w)
		}
	}
	y = pageH - 300
	for _, s := range extra {
		put(left, s)
	}
	return img
}

// wrapWords breaks s into lines that fit; an empty s is one empty line.
func wrapWords(s string, fits func(string) bool) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && !fits(cur+" "+w) {
			lines = append(lines, cur)
			cur = w
			continue
		}
		cur = strings.TrimPrefix(cur+" "+w, " ")
	}
	return append(lines, cur)
}

// rotateGray rotates img by deg degrees about its centre (bilinear, white fill), as a
// slightly skewed sheet in a scanner.
func rotateGray(img *image.Gray, deg float64) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(b)
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= b.Dx() || y >= b.Dy() {
			return 255
		}
		return float64(img.Pix[y*img.Stride+x])
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			sx, sy := cos*dx+sin*dy+cx, -sin*dx+cos*dy+cy
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			v := at(x0, y0)*(1-fx)*(1-fy) + at(x0+1, y0)*fx*(1-fy) + at(x0, y0+1)*(1-fx)*fy + at(x0+1, y0+1)*fx*fy
			out.Pix[y*out.Stride+x] = uint8(v + 0.5)
		}
	}
	return out
}

// wordAccuracy is the share of the source's words found in got (a multiset match after
// lower-casing and stripping punctuation), so reading order between blocks does not count.
func wordAccuracy(source, got string) float64 {
	want := normWords(source)
	have := map[string]int{}
	for _, w := range normWords(got) {
		have[w]++
	}
	matched := 0
	for _, w := range want {
		if have[w] > 0 {
			have[w]--
			matched++
		}
	}
	if len(want) == 0 {
		return 1
	}
	return float64(matched) / float64(len(want))
}

// missingWords lists the source words not found in got, for failure messages.
func missingWords(source, got string) []string {
	have := map[string]int{}
	for _, w := range normWords(got) {
		have[w]++
	}
	var out []string
	for _, w := range normWords(source) {
		if have[w] > 0 {
			have[w]--
			continue
		}
		out = append(out, w)
	}
	return out
}

func normWords(s string) []string {
	var out []string
	for _, f := range strings.Fields(strings.ToLower(s)) {
		w := strings.TrimFunc(f, func(r rune) bool { return !isWordRune(r) })
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

func isWordRune(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 0xC0 && r != 0xD7 && r != 0xF7 && r < 0x250
}

// encodePNG writes img as PNG; dpi > 0 adds a pHYs chunk, which Go's encoder never writes.
func encodePNG(t testing.TB, img image.Image, dpi int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if dpi == 0 {
		return b.Bytes()
	}
	ppm := uint32(math.Round(float64(dpi) / 0.0254))
	data := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, ppm), ppm)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)+1))
	chunk = append(chunk, "pHYs"...)
	chunk = append(chunk, data...)
	chunk = append(chunk, 1) // unit: metre
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	const ihdrEnd = 8 + 25 // signature, IHDR chunk
	return slices.Concat(b.Bytes()[:ihdrEnd], chunk, b.Bytes()[ihdrEnd:])
}

// encodeJPEG writes img as baseline JPEG of the given quality; dpi > 0 adds a JFIF APP0
// segment with that density, which Go's encoder never writes.
func encodeJPEG(t testing.TB, img image.Image, quality, dpi int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	if dpi == 0 {
		return b.Bytes()
	}
	app0 := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 1}
	app0 = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(app0, uint16(dpi)), uint16(dpi))
	app0 = append(app0, 0, 0)
	return slices.Concat(b.Bytes()[:2], app0, b.Bytes()[2:])
}

// encodeTIFF writes pages as one little-endian, Deflate-compressed, 8-bit grey TIFF with
// one strip per page; dpi 0 leaves out the resolution tags.
func encodeTIFF(t testing.TB, pages []*image.Gray, dpi int) []byte {
	t.Helper()
	le := binary.LittleEndian
	out := []byte{'I', 'I', 42, 0, 0, 0, 0, 0}
	linkAt := 4 // where the offset of the next IFD goes
	for _, p := range pages {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		if _, err := zw.Write(p.Pix); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		stripAt := len(out)
		out = append(out, z.Bytes()...)
		if len(out)%2 == 1 {
			out = append(out, 0)
		}
		w, h := uint32(p.Rect.Dx()), uint32(p.Rect.Dy())
		type entry struct {
			tag, typ uint16
			val      uint32
		}
		entries := []entry{{256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 8}, {262, 3, 1},
			{273, 4, uint32(stripAt)}, {277, 3, 1}, {278, 4, h}, {279, 4, uint32(z.Len())}}
		ifdAt := len(out)
		n := len(entries)
		if dpi > 0 {
			n += 3
		}
		ratAt := uint32(ifdAt + 2 + 12*n + 4) // two rationals after the IFD
		if dpi > 0 {
			entries = append(entries, entry{282, 5, ratAt}, entry{283, 5, ratAt + 8}, entry{296, 3, 2})
		}
		le.PutUint32(out[linkAt:], uint32(ifdAt))
		out = le.AppendUint16(out, uint16(len(entries)))
		for _, e := range entries {
			out = le.AppendUint16(le.AppendUint16(out, e.tag), e.typ)
			out = le.AppendUint32(le.AppendUint32(out, 1), e.val)
		}
		linkAt = len(out)
		out = le.AppendUint32(out, 0)
		if dpi > 0 {
			for range 2 {
				out = le.AppendUint32(le.AppendUint32(out, uint32(dpi)), 1)
			}
		}
	}
	return out
}

// pdfLines wraps the letter's text for a text-layer page (Helvetica 11 pt, about 85
// characters on a line), sender block first.
func pdfLines(l testLetter) []string {
	var out []string
	for _, s := range l.body() {
		out = append(out, wrapWords(s, func(s string) bool { return len([]rune(s)) <= 85 })...)
	}
	return out
}
