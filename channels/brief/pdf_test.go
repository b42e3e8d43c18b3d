package brief

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// pdfDoc writes a minimal PDF by hand: objects 1 (catalog), 2 (pages), 3 (Helvetica with
// WinAnsiEncoding), then the pages and their contents.
type pdfDoc struct {
	buf     bytes.Buffer
	offsets map[int]int
	next    int
	kids    []string
	encrypt bool // add a Standard /Encrypt dictionary whose user password is not empty
}

func newPDF() *pdfDoc {
	d := &pdfDoc{offsets: map[int]int{}, next: 4}
	d.buf.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	return d
}

func (d *pdfDoc) obj(n int, body []byte) {
	d.offsets[n] = d.buf.Len()
	fmt.Fprintf(&d.buf, "%d 0 obj\n", n)
	d.buf.Write(body)
	d.buf.WriteString("\nendobj\n")
}

func (d *pdfDoc) stream(dict string, data []byte) []byte {
	return slices.Concat([]byte(fmt.Sprintf("<< %s /Length %d >>\nstream\n", dict, len(data))), data, []byte("\nendstream"))
}

// page adds an A4 page with the given content stream and resources.
func (d *pdfDoc) page(content []byte, resources string) {
	pageN, contentN := d.next, d.next+1
	d.next += 2
	d.obj(contentN, d.stream("", content))
	d.obj(pageN, []byte(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources %s >>", contentN, resources)))
	d.kids = append(d.kids, fmt.Sprintf("%d 0 R", pageN))
}

// textPage adds a page with a text layer: lines from the top, 11 pt Helvetica.
func (d *pdfDoc) textPage(lines []string) {
	var c bytes.Buffer
	c.WriteString("BT /F1 11 Tf\n")
	y := 780
	for _, l := range lines {
		fmt.Fprintf(&c, "1 0 0 1 72 %d Tm (%s) Tj\n", y, pdfString(l))
		y -= 15
	}
	c.WriteString("ET")
	d.page(c.Bytes(), "<< /Font << /F1 3 0 R >> >>")
}

// imagePage adds a page that is only a grey JPEG image over the whole A4 sheet.
func (d *pdfDoc) imagePage(jpg []byte, w, h int) {
	imgN := d.next
	d.next++
	d.obj(imgN, d.stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode", w, h), jpg))
	d.page([]byte("q 595 0 0 842 0 0 cm /Im1 Do Q"), fmt.Sprintf("<< /XObject << /Im1 %d 0 R >> >>", imgN))
}

func (d *pdfDoc) bytes() []byte {
	d.obj(1, []byte("<< /Type /Catalog /Pages 2 0 R >>"))
	d.obj(2, []byte(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(d.kids, " "), len(d.kids))))
	d.obj(3, []byte("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"))
	extra := ""
	if d.encrypt {
		n := d.next
		d.next++
		d.obj(n, []byte(fmt.Sprintf("<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>",
			strings.Repeat("5a", 32), strings.Repeat("a5", 32))))
		extra = fmt.Sprintf(" /Encrypt %d 0 R /ID [<%s> <%s>]", n, strings.Repeat("01", 16), strings.Repeat("01", 16))
	}
	xref := d.buf.Len()
	fmt.Fprintf(&d.buf, "xref\n0 %d\n0000000000 65535 f \n", d.next)
	for n := 1; n < d.next; n++ {
		fmt.Fprintf(&d.buf, "%010d 00000 n \n", d.offsets[n])
	}
	fmt.Fprintf(&d.buf, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", d.next, extra, xref)
	return d.buf.Bytes()
}

// pdfString encodes s in WinAnsiEncoding as the inside of a PDF literal string.
func pdfString(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x80:
			b.WriteRune(r)
		case r >= 0xA0 && r <= 0xFF:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
