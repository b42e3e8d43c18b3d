package brief

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"

	"github.com/instroom/instroom/ingest/intakeapi"
)

// maxMetadataBytes bounds the metadata part, which is held in memory. No valid document
// comes near it: the longest field, ocrTekst, holds at most a million characters, 12 MB
// when every one is written as a \u escaped surrogate pair.
const maxMetadataBytes = 16 << 20

// push is one POST /v1/brieven as read from its multipart body.
type push struct {
	metadata    []byte // the first metadata part, as sent
	hasMetadata bool
	scan        *os.File // the first scan part, spooled
	scanSize    int64
	scanSum     [sha256.Size]byte
	scanFormat  string
	problems    []intakeapi.InvalidParam // part problems (400)
	unsupported string                   // why step 8 fails (415); "" when it does not
}

func (p *push) close() {
	if p.scan != nil {
		p.scan.Close()
		os.Remove(p.scan.Name())
	}
}

var (
	errMetadataTooLarge = errors.New("metadata part over its limit")
	errNotMultipart     = errors.New("body is not multipart/form-data")
	errSpool            = errors.New("spooling the scan")
)

// readPush reads the multipart body: exactly one metadata part and one scan part, in any
// order; further, repeated and unknown parts become problems. Parts are read raw (no
// Content-Transfer-Encoding decoding): what is stored is what was sent.
func readPush(r *http.Request, body io.Reader, spoolDir string) (*push, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, errNotMultipart
	}
	mr := multipart.NewReader(body, params["boundary"])
	p := &push{}
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.close()
			return nil, errors.Join(errNotMultipart, err)
		}
		if err := p.readPart(part, spoolDir); err != nil {
			part.Close()
			p.close()
			return nil, err
		}
		part.Close()
	}
	if !p.hasMetadata {
		p.problems = append(p.problems, intakeapi.InvalidParam{Name: "metadata", Code: "required", Reason: "Het deel ontbreekt."})
	}
	if p.scan == nil {
		p.problems = append(p.problems, intakeapi.InvalidParam{Name: "scan", Code: "required", Reason: "Het deel ontbreekt."})
	}
	return p, nil
}

func (p *push) readPart(part *multipart.Part, spoolDir string) error {
	name := part.FormName()
	switch {
	case name == "metadata" && !p.hasMetadata:
		p.hasMetadata = true
		if ct := part.Header.Get("Content-Type"); ct != "" {
			if mt, params, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" ||
				(params["charset"] != "" && !equalFoldASCII(params["charset"], "utf-8")) {
				p.unsupported = "Het deel metadata moet application/json zijn."
			}
		}
		b, err := io.ReadAll(io.LimitReader(part, maxMetadataBytes+1))
		if err != nil {
			return err
		}
		if len(b) > maxMetadataBytes {
			return errMetadataTooLarge
		}
		p.metadata = b
	case name == "scan" && p.scan == nil:
		if err := p.spoolScan(part, spoolDir); err != nil {
			return err
		}
		if p.scanFormat == "" && p.unsupported == "" {
			p.unsupported = "De scan is geen PDF, TIFF, PNG of JPEG."
		}
	case name == "metadata" || name == "scan":
		p.problems = append(p.problems, intakeapi.InvalidParam{Name: name, Code: "duplicate-part", Reason: "Het deel komt meer dan eens voor."})
		_, err := io.Copy(io.Discard, part)
		return err
	default:
		p.problems = append(p.problems, intakeapi.InvalidParam{Name: name, Code: "unknown-part", Reason: "Onbekend deel."})
		_, err := io.Copy(io.Discard, part)
		return err
	}
	return nil
}

// spoolScan streams the scan part to a spool file while hashing it; its format is decided
// by its first bytes only.
func (p *push) spoolScan(part io.Reader, spoolDir string) error {
	if spoolDir != "" {
		if err := os.MkdirAll(spoolDir, 0o750); err != nil {
			return errors.Join(errSpool, err)
		}
	}
	f, err := os.CreateTemp(spoolDir, "instroom-api-*")
	if err != nil {
		return errors.Join(errSpool, err)
	}
	p.scan = f
	h := sha256.New()
	var head headBuffer
	n, err := io.Copy(io.MultiWriter(spoolWriter{f}, h, &head), part)
	if err != nil {
		return err
	}
	p.scanSize = n
	h.Sum(p.scanSum[:0])
	p.scanFormat = scanFormat(head.b)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return errors.Join(errSpool, err)
	}
	return nil
}

// spoolWriter marks write errors of the spool file, to tell them from read errors.
type spoolWriter struct{ f *os.File }

func (w spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = errors.Join(errSpool, err)
	}
	return n, err
}

// headBuffer keeps the first 16 bytes written to it.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if k := 16 - len(h.b); k > 0 {
		h.b = append(h.b, p[:min(k, len(p))]...)
	}
	return len(p), nil
}

func equalFoldASCII(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }
