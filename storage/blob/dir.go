// Package blob stores informatieobject content: in a local directory (the embedded
// default) and, for production, in S3-compatible object storage.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/instroom/instroom/storage/fsutil"
)

// ErrNotExist is returned when a key has no object.
var ErrNotExist = errors.New("blob: object does not exist")

// Dir stores every object as a file below a root directory. Writes are durable before Put
// returns (temporary file, fsync, rename).
type Dir struct {
	root string
}

// NewDir returns a store rooted at dir, creating it if needed.
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob: creating directory: %w", err)
	}
	return &Dir{root: dir}, nil
}

func (d *Dir) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("blob: invalid key")
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" || el == "." || el == ".." || strings.HasPrefix(el, ".tmp-") {
			return "", fmt.Errorf("blob: invalid key")
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put stores r under key. When size is not -1, a different number of bytes is an error and
// nothing is stored.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if size >= 0 {
		r = &exactReader{r: r, left: size}
	}
	if _, err := fsutil.WriteFile(p, r, 0o640); err != nil {
		return fmt.Errorf("blob: writing object: %w", err)
	}
	return nil
}

// Get opens the object under key.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	return f, err
}

// String names the store for logs.
func (d *Dir) String() string { return "dir:" + d.root }

var errSize = errors.New("blob: content size differs from the stated size")

// exactReader fails unless exactly left bytes are read before EOF.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if int64(len(p)) > e.left+1 {
		p = p[:e.left+1]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if e.left < 0 {
		return n, errSize
	}
	if err == io.EOF && e.left != 0 {
		return n, errSize
	}
	return n, err
}
