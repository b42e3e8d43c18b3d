package intakeapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
)

// ErrTooLarge is returned by a body from Body that passes the route's limit.
var ErrTooLarge = errors.New("intake: request body over the limit")

// Body runs steps 5–7 of the contract's §5 for a POST the Server admitted: the request's
// media type must be mediaType (415; for application/json a charset, when given, must be
// utf-8; multipart types need a boundary), a Content-Length over the route's limit is
// refused before reading (413), and for a vendor with webhook secrets the signature is
// checked (401) over the whole body, spooled to a file, and a replayed webhook-id gets
// its remembered answer. Body answers itself and returns false when a step fails or a
// replay was answered. Otherwise the returned reader yields the body; a read that passes
// the limit fails with ErrTooLarge (answer any read error with WriteReadError).
func Body(w http.ResponseWriter, r *http.Request, mediaType string) (io.Reader, bool) {
	st := stateFrom(r.Context())
	if st == nil || st.vendor == nil {
		WriteProblem(w, CodeInternal, "", nil)
		return nil, false
	}
	if !mediaTypeIs(r.Header.Values("Content-Type"), mediaType) {
		WriteProblem(w, CodeUnsupported, "Het mediatype van het verzoek wordt niet ondersteund.", nil)
		return nil, false
	}
	if r.ContentLength > st.maxBytes {
		WriteProblem(w, CodeTooLarge, "Het verzoek is groter dan toegestaan.", nil)
		return nil, false
	}
	body := &limitReader{r: r.Body, left: st.maxBytes, st: st}
	if len(st.vendor.keys) == 0 {
		return body, true
	}
	s := st.server
	sr, err := parseSignature(r.Header, s.opts.Now())
	if err != nil {
		writeBadSignature(w)
		return nil, false
	}
	f, err := os.CreateTemp(s.opts.SpoolDir, ".intake-*")
	if err != nil {
		s.opts.Logger.Error("intake spool file cannot be created", "err", err)
		WriteProblem(w, CodeUnavailable, "Probeer het later opnieuw.", nil)
		return nil, false
	}
	st.spool = append(st.spool, f)
	macs := sr.macs(st.vendor.keys)
	ws := []io.Writer{f}
	for _, m := range macs {
		ws = append(ws, m)
	}
	if _, err := io.Copy(io.MultiWriter(ws...), body); err != nil {
		WriteReadError(w, r, err)
		return nil, false
	}
	if !sr.verify(macs) {
		writeBadSignature(w)
		return nil, false
	}
	if a, ok := s.replays.get(st.vendor.v.Key, sr.id, s.opts.Now()); ok {
		st.replayed = true
		a.write(w)
		return nil, false
	}
	st.signed = sr
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		WriteProblem(w, CodeInternal, "", nil)
		return nil, false
	}
	return f, true
}

// WriteReadError answers a failure to read the body: 413 when it passed the limit, else
// 400 (a broken or aborted upload).
func WriteReadError(w http.ResponseWriter, r *http.Request, err error) {
	if st := stateFrom(r.Context()); errors.Is(err, ErrTooLarge) || (st != nil && st.tooLarge) {
		WriteProblem(w, CodeTooLarge, "Het verzoek is groter dan toegestaan.", nil)
		return
	}
	WriteProblem(w, CodeInvalid, "Het verzoek kon niet volledig worden gelezen.", nil)
}

// TooLarge reports whether the body of r passed its limit while it was read.
func TooLarge(r *http.Request) bool {
	st := stateFrom(r.Context())
	return st != nil && st.tooLarge
}

// mediaTypeIs reports whether the one Content-Type header is want (see Body).
func mediaTypeIs(values []string, want string) bool {
	if len(values) != 1 {
		return false
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != want {
		return false
	}
	if cs, ok := params["charset"]; ok && want == "application/json" && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	if strings.HasPrefix(want, "multipart/") && params["boundary"] == "" {
		return false
	}
	return true
}

// limitReader fails with ErrTooLarge once more than left bytes were read.
type limitReader struct {
	r    io.Reader
	left int64
	st   *state
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.st.tooLarge {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) <= l.left {
		l.left -= int64(n)
		return n, err
	}
	n, l.left, l.st.tooLarge = int(l.left), 0, true
	return n, ErrTooLarge
}
