package brief

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzReadPush: the multipart reader of POST /v1/brieven never panics, and what it
// accepts has at most one metadata and one scan part.
func FuzzReadPush(f *testing.F) {
	ct, body := apiMultipart(pushParts(exampleSidecar, apiPDF))
	f.Add(ct, body)
	f.Add(ct, body[:len(body)/2])
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"scan\"\r\n\r\n%PDF-\r\n--x--\r\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r, _ := http.NewRequest("POST", "/v1/brieven", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		p, err := readPush(r, bytes.NewReader(body), dir)
		if err != nil {
			return
		}
		defer p.close()
		if p.hasMetadata != (p.metadata != nil) && len(p.metadata) > 0 {
			t.Errorf("readPush: metadata %d bytes but hasMetadata %v", len(p.metadata), p.hasMetadata)
		}
		if p.scan == nil && p.scanSize != 0 {
			t.Errorf("readPush: scan size %d without a scan", p.scanSize)
		}
	})
}
