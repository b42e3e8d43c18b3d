package mail

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/instroom/instroom/ingest"
)

// maxDepth is the deepest MIME nesting the walker descends into.
const maxDepth = 20

// maxTextBytes is the most decoded body text kept in memory; the original keeps the rest.
const maxTextBytes = 4 << 20

// maxHeaderBytes bounds one header section.
const maxHeaderBytes = 1 << 20

// maxContainerBytes bounds what is read into memory to unpack a container (S/MIME
// signed data, TNEF); a larger one is kept as an attachment as it came.
const maxContainerBytes = 32 << 20

// walker walks the MIME tree of one mail as it streams, collecting the body text and
// spooling every attachment.
type walker struct {
	ctx      context.Context // bounds the time spent; once done, the walk stops
	p        *Parser
	rep      repairs
	plain    []string // text/plain bodies, in order
	html     []string // text/html bodies, in order
	textSize int
	parts    int
	atts     []ingest.Content
	spools   []*spool
	stopped  bool
}

func (w *walker) stop() bool {
	if w.stopped {
		return true
	}
	if w.ctx.Err() != nil || w.parts > w.p.opts.MaxParts {
		w.rep.add(repairLimits)
		w.stopped = true
	}
	return w.stopped
}

// entity handles one entity (the message or a part) whose header h was read from br.
// The body is what remains of br.
func (w *walker) entity(br *bufio.Reader, h header, depth int) error {
	w.parts++
	if w.stop() {
		return nil
	}
	mt, params := parseMediaType(h.Get("Content-Type"), &w.rep)
	if mt == "" {
		mt = "text/plain"
	}
	disp, dparams := parseMediaType(h.Get("Content-Disposition"), &w.rep)
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	body := func() io.Reader { return transferDecoder(br, h.Get("Content-Transfer-Encoding"), &w.rep) }

	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth >= maxDepth {
			w.rep.add(repairLimits)
			return nil
		}
		return w.multipart(br, mt, params, depth)
	case (mt == "message/rfc822" || mt == "message/global") && depth == 0:
		// The whole mail is a forwarded message: its text and attachments are the mail's.
		return w.inner(body(), depth)
	case isSMIMESigned(mt, params, name):
		return w.smimeSigned(body(), name, mt, depth)
	case isSMIMEEncrypted(mt, params, name):
		w.rep.add(noteEncrypted)
		return w.attachment(body(), nonEmpty(name, "versleuteld-bericht.p7m"), mt)
	case isTNEF(mt, name):
		return w.tnef(body(), name, mt)
	case (mt == "text/plain" || mt == "text/html") && name == "" && disp != "attachment":
		return w.text(body(), mt, params["charset"])
	default:
		return w.attachment(body(), name, mt)
	}
}

// multipart walks the parts of a multipart entity.
func (w *walker) multipart(br *bufio.Reader, mt string, params map[string]string, depth int) error {
	boundary := params["boundary"]
	peek, _ := br.Peek(br.Size())
	if boundary == "" || (len(peek) < br.Size() && !bytes.Contains(peek, []byte("--"+boundary))) {
		found := findBoundary(peek)
		if found == "" {
			// No delimiter anywhere: read the body as text.
			w.rep.add(repairMIME)
			return w.text(br, "text/plain", params["charset"])
		}
		if found != boundary {
			w.rep.add(repairMIME)
		}
		boundary = found
	}
	mr := newMultipartReader(br, boundary)
	for i := 0; ; i++ {
		part, err := mr.next()
		if err == errNoMoreParts {
			break
		}
		if err != nil {
			return err
		}
		if w.stop() {
			return part.drain()
		}
		if mt == "multipart/signed" && i > 0 {
			// The signature (S/MIME or PGP) is not the customer's attachment.
			w.rep.add(noteSigned)
			continue
		}
		if mt == "multipart/encrypted" {
			w.rep.add(noteEncrypted)
			if i == 0 {
				continue // the version part (application/pgp-encrypted)
			}
		}
		if err := w.part(part, mt, i, depth); err != nil {
			return err
		}
		if err := part.drain(); err != nil {
			return err
		}
	}
	if !mr.complete() {
		w.rep.add(repairMIME)
	}
	return nil
}

// part reads one part of a multipart entity of type mt; i is its index.
func (w *walker) part(part *partReader, mt string, i, depth int) error {
	pbr := w.p.reader(&w.p.partBufs, partBufSize, part)
	defer w.p.release(&w.p.partBufs, pbr)
	ph, err := readHeader(pbr, maxHeaderBytes, &w.rep)
	if err != nil {
		return err
	}
	if mt == "multipart/digest" && !ph.Has("Content-Type") {
		ph.fields = append(ph.fields, field{Key: "Content-Type", Value: "message/rfc822"}) // RFC 2046 §5.1.5
	}
	if mt == "multipart/encrypted" {
		return w.attachment(transferDecoder(pbr, ph.Get("Content-Transfer-Encoding"), &w.rep), "versleuteld-bericht.asc", "application/pgp-encrypted")
	}
	return w.entity(pbr, ph, depth+1)
}

// text reads a text body into memory (up to maxTextBytes; the original keeps the rest).
func (w *walker) text(r io.Reader, mt, charset string) error {
	room := maxTextBytes - w.textSize
	if room <= 0 {
		w.rep.add(repairTextCut)
		_, err := io.Copy(io.Discard, r)
		return err
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(room)+1))
	if err != nil {
		return err
	}
	if len(b) > room {
		b = b[:room]
		w.rep.add(repairTextCut)
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
	w.textSize += len(b)
	s := decodeText(b, charset, &w.rep)
	if mt == "text/html" {
		w.html = append(w.html, s)
		return nil
	}
	if strings.Contains(s, "-----BEGIN PGP MESSAGE-----") {
		w.rep.add(noteEncrypted)
	}
	w.plain = append(w.plain, s)
	return nil
}

// attachment spools one attachment.
func (w *walker) attachment(r io.Reader, name, mt string) error {
	sp, err := writeSpool(r, w.p.opts.SpoolDir, memSpoolMax, &w.p.scratch)
	if err != nil {
		return fmt.Errorf("spooling attachment: %w", err)
	}
	w.spools = append(w.spools, sp)
	w.atts = append(w.atts, sp.content(name, mt))
	return nil
}

// bodyText is the text of the mail: the plain bodies, else the HTML rendered as text.
func (w *walker) bodyText() string {
	if t := strings.TrimSpace(strings.Join(w.plain, "\n\n")); t != "" {
		return t
	}
	var out []string
	for _, h := range w.html {
		out = append(out, htmlText(h))
	}
	return strings.TrimSpace(strings.Join(out, "\n\n"))
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// inner walks a message carried as the body of an entity.
func (w *walker) inner(r io.Reader, depth int) error {
	br := w.p.reader(&w.p.partBufs, partBufSize, r)
	defer w.p.release(&w.p.partBufs, br)
	h, err := readHeader(br, maxHeaderBytes, &w.rep)
	if err != nil {
		return err
	}
	return w.entity(br, h, depth+1)
}
