package brief

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
)

// Media types of scans, recognised by their first bytes.
const (
	mediaPDF  = "application/pdf"
	mediaTIFF = "image/tiff"
	mediaPNG  = "image/png"
	mediaJPEG = "image/jpeg"
)

// scanFormat returns the media type of a scan by its first bytes only (8 are enough):
// %PDF- → application/pdf; "II*\x00" or "MM\x00*" → image/tiff; the PNG signature →
// image/png; "\xFF\xD8\xFF" → image/jpeg; anything else → "".
func scanFormat(prefix []byte) string {
	switch {
	case bytes.HasPrefix(prefix, []byte("%PDF-")):
		return mediaPDF
	case bytes.HasPrefix(prefix, []byte("II*\x00")), bytes.HasPrefix(prefix, []byte("MM\x00*")):
		return mediaTIFF
	case bytes.HasPrefix(prefix, []byte("\x89PNG\r\n\x1a\n")):
		return mediaPNG
	case bytes.HasPrefix(prefix, []byte("\xFF\xD8\xFF")):
		return mediaJPEG
	}
	return ""
}

// imagePage is what an image's headers say about one page.
type imagePage struct {
	width, height int     // pixels; 0 when unknown
	dpi           float64 // stated resolution; 0 when none
}

// Resolution rules for OCR. Tesseract believes 70–2400 dpi (its kMinCredibleResolution and
// kMaxCredibleResolution); a stated resolution that makes the sheet longer than 24 inches (A2
// is 23.4) is a placeholder such as the 72 dpi many encoders write, not a scan's.
const (
	defaultDPI   = 300
	minDPI       = 70
	maxDPI       = 2400
	maxSheetInch = 24
)

// ocrDPI is the resolution to give tesseract for the page: the stated one when it is
// plausible, else 300, so images without (or with placeholder) DPI information still work.
func (p imagePage) ocrDPI() int {
	if !plausibleDPI(p.dpi, p.width, p.height) {
		return defaultDPI
	}
	return int(math.Round(p.dpi))
}

func plausibleDPI(dpi float64, width, height int) bool {
	return dpi >= minDPI && dpi <= maxDPI && float64(max(width, height))/dpi <= maxSheetInch
}

// Bounds on header parsing: the schema allows 100000 pages; a TIFF directory of more than
// 4096 entries or a PNG/JPEG with more than 1024 segments before the image data is not a scan.
const (
	maxTIFFPages   = 100000
	maxTIFFEntries = 4096
	maxSegments    = 1024
)

// imagePages reads the pages of an image scan from its headers. It never fails: headers it
// cannot read give what was found so far, at least one page of unknown geometry, and the OCR
// tool reports what is wrong with the image.
func imagePages(r io.ReaderAt, format string) []imagePage {
	var pages []imagePage
	switch format {
	case mediaTIFF:
		pages = tiffPages(r, maxTIFFPages)
	case mediaPNG:
		pages = []imagePage{pngPage(r)}
	case mediaJPEG:
		pages = []imagePage{jpegPage(r)}
	}
	if len(pages) == 0 {
		pages = []imagePage{{}}
	}
	return pages
}

// tiffPages walks the chain of image file directories, one per page, up to limit.
func tiffPages(r io.ReaderAt, limit int) []imagePage {
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil
	}
	var bo binary.ByteOrder
	switch string(hdr[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return nil
	}
	var pages []imagePage
	seen := map[uint32]bool{}
	for off := bo.Uint32(hdr[4:]); off != 0 && len(pages) < limit && !seen[off]; {
		seen[off] = true
		p, next, ok := tiffIFD(r, bo, int64(off))
		if !ok {
			break
		}
		pages = append(pages, p)
		off = next
	}
	return pages
}

// tiffIFD reads one directory: the page's size and resolution, and the next directory's offset.
func tiffIFD(r io.ReaderAt, bo binary.ByteOrder, off int64) (imagePage, uint32, bool) {
	var n [2]byte
	if _, err := r.ReadAt(n[:], off); err != nil {
		return imagePage{}, 0, false
	}
	count := int(bo.Uint16(n[:]))
	if count > maxTIFFEntries {
		return imagePage{}, 0, false
	}
	buf := make([]byte, 12*count+4)
	if _, err := r.ReadAt(buf, off+2); err != nil {
		return imagePage{}, 0, false
	}
	var p imagePage
	var xres, yres float64
	unit := uint32(2) // inch, the default
	for i := range count {
		e := buf[12*i : 12*i+12]
		tag, typ := bo.Uint16(e), bo.Uint16(e[2:])
		switch tag {
		case 256:
			p.width = int(tiffShortOrLong(bo, typ, e[8:]))
		case 257:
			p.height = int(tiffShortOrLong(bo, typ, e[8:]))
		case 282, 283:
			v := tiffRational(r, bo, typ, e[8:])
			if tag == 282 {
				xres = v
			} else {
				yres = v
			}
		case 296:
			unit = tiffShortOrLong(bo, typ, e[8:])
		}
	}
	res := max(xres, yres)
	switch unit {
	case 2:
		p.dpi = res
	case 3:
		p.dpi = res * 2.54
	}
	return p, bo.Uint32(buf[12*count:]), true
}

func tiffShortOrLong(bo binary.ByteOrder, typ uint16, v []byte) uint32 {
	switch typ {
	case 3: // SHORT
		return uint32(bo.Uint16(v))
	case 4: // LONG
		return bo.Uint32(v)
	}
	return 0
}

// tiffRational reads a RATIONAL value, which never fits in the entry, from its offset.
func tiffRational(r io.ReaderAt, bo binary.ByteOrder, typ uint16, v []byte) float64 {
	if typ != 5 {
		return 0
	}
	var b [8]byte
	if _, err := r.ReadAt(b[:], int64(bo.Uint32(v))); err != nil {
		return 0
	}
	num, den := bo.Uint32(b[:]), bo.Uint32(b[4:])
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// pngPage reads IHDR and a pHYs chunk in metres, which must come before the image data.
func pngPage(r io.ReaderAt) imagePage {
	var p imagePage
	off := int64(8)
	for range maxSegments {
		var h [8]byte
		if _, err := r.ReadAt(h[:], off); err != nil {
			return p
		}
		n, typ := int64(binary.BigEndian.Uint32(h[:])), string(h[4:])
		switch typ {
		case "IHDR", "pHYs":
			var d [9]byte
			if _, err := r.ReadAt(d[:], off+8); err != nil {
				return p
			}
			if typ == "IHDR" {
				p.width, p.height = int(binary.BigEndian.Uint32(d[:])), int(binary.BigEndian.Uint32(d[4:]))
			} else if d[8] == 1 {
				ppm := max(binary.BigEndian.Uint32(d[:]), binary.BigEndian.Uint32(d[4:]))
				p.dpi = float64(ppm) * 0.0254
			}
		case "IDAT", "IEND":
			return p
		}
		off += 12 + n
	}
	return p
}

// jpegPage reads the frame header and the resolution of a JFIF APP0 segment, else of the
// Exif APP1 segment, stopping at the start of scan.
func jpegPage(r io.ReaderAt) imagePage {
	var p imagePage
	var jfif, exif float64
	off := int64(2)
	for range maxSegments {
		var h [4]byte
		if _, err := r.ReadAt(h[:], off); err != nil || h[0] != 0xFF {
			break
		}
		marker := h[1]
		if marker == 0xFF { // fill byte
			off++
			continue
		}
		if marker == 0x01 || marker >= 0xD0 && marker <= 0xD8 { // no length
			off += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 {
			break
		}
		n := int64(binary.BigEndian.Uint16(h[2:]))
		if n < 2 {
			break
		}
		seg := make([]byte, min(n-2, 1<<16))
		if _, err := r.ReadAt(seg, off+4); err != nil {
			break
		}
		switch {
		case marker == 0xE0 && len(seg) >= 12 && string(seg[:5]) == "JFIF\x00":
			d := float64(max(binary.BigEndian.Uint16(seg[8:]), binary.BigEndian.Uint16(seg[10:])))
			switch seg[7] {
			case 1:
				jfif = d
			case 2:
				jfif = d * 2.54
			}
		case marker == 0xE1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00":
			if ps := tiffPages(bytes.NewReader(seg[6:]), 1); len(ps) == 1 {
				exif = ps[0].dpi
			}
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC && len(seg) >= 5:
			p.height, p.width = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
		}
		off += 2 + n
	}
	p.dpi = jfif
	if !plausibleDPI(jfif, p.width, p.height) {
		p.dpi = exif
	}
	return p
}
