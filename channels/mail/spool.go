package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sync"

	"github.com/instroom/instroom/ingest"
)

// memSpoolMax is the largest content kept in memory; larger content goes to a temporary
// file in the spool directory, so memory per item is bounded by buffers, not by its size.
const memSpoolMax = 1 << 20

// spool holds content while an item is handled: in memory when small, in a temporary
// file otherwise.
type spool struct {
	mem  []byte
	file string
	size int64
	sum  string // sha256, lowercase hex (only from writeSpool)
}

// newSpool stores r; hint is its size when known (-1 otherwise).
func newSpool(r io.Reader, hint int64, dir string) (*spool, error) {
	if hint >= 0 && hint <= memSpoolMax {
		b, err := readAllSized(r, int(hint))
		if err != nil {
			return nil, err
		}
		return &spool{mem: b, size: int64(len(b))}, nil
	}
	return writeSpool(r, dir, 0, nil)
}

// readAllSized is io.ReadAll with room for size bytes from the start (and bytes.MinRead
// more, for the read that finds the end), so content of a known size is read in one
// allocation. More or fewer bytes than size are read as io.ReadAll reads them.
func readAllSized(r io.Reader, size int) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// scratchPool holds buffers to read content of unknown size into: the content is then
// copied out in one allocation of its exact size, instead of the doubling of io.ReadAll.
type scratchPool struct{ pool sync.Pool }

// scratchKeep is the largest scratch buffer kept for the next read.
const scratchKeep = 256 << 10

// readAll reads r to its end like io.ReadAll (a nil pool is io.ReadAll).
func (s *scratchPool) readAll(r io.Reader) ([]byte, error) {
	if s == nil {
		return io.ReadAll(r)
	}
	buf, ok := s.pool.Get().(*bytes.Buffer)
	if !ok {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	_, err := buf.ReadFrom(r)
	b := append(make([]byte, 0, buf.Len()), buf.Bytes()...)
	if buf.Cap() <= scratchKeep {
		s.pool.Put(buf)
	}
	return b, err
}

// writeSpool stores r and its SHA-256: in memory when it is at most memMax bytes, else
// in a temporary file in dir.
func writeSpool(r io.Reader, dir string, memMax int, scratch *scratchPool) (*spool, error) {
	h := sha256.New()
	var head []byte
	if memMax > 0 {
		b, err := scratch.readAll(io.LimitReader(r, int64(memMax)+1))
		if err != nil {
			return nil, err
		}
		h.Write(b)
		if len(b) <= memMax {
			return &spool{mem: b, size: int64(len(b)), sum: hex.EncodeToString(h.Sum(nil))}, nil
		}
		head = b
	}
	f, err := os.CreateTemp(dir, "instroom-mail-*")
	if err != nil {
		return nil, err
	}
	_, err = f.Write(head)
	var n int64
	if err == nil {
		n, err = io.Copy(io.MultiWriter(f, h), r)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &spool{file: f.Name(), size: int64(len(head)) + n, sum: hex.EncodeToString(h.Sum(nil))}, nil
}

func (sp *spool) open(context.Context) (io.ReadCloser, error) {
	if sp.file == "" {
		return io.NopCloser(bytes.NewReader(sp.mem)), nil
	}
	return os.Open(sp.file)
}

func (sp *spool) remove() {
	if sp != nil && sp.file != "" {
		os.Remove(sp.file)
	}
}

// content returns the spooled content as an informatieobject's content.
func (sp *spool) content(filename, contentType string) ingest.Content {
	return ingest.Content{Filename: filename, ContentType: contentType, Size: sp.size, SHA256: sp.sum, Open: sp.open}
}
