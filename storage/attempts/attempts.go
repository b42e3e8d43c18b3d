// Package attempts keeps, in the worker's data directory, how many attempts at an item
// ended without an outcome: the worker died during the attempt, or the attempt ran out
// of time. The count survives restarts, so an item that crashes the worker every time it
// is read can be recognised as poison and sent to the failed place instead of looping.
//
// Every item has one small file, named by the SHA-256 of its key (a source name and an
// item reference: no citizen data in file names), that holds the count as decimal text.
// The file is written durably (temp file, fsync, rename) before the attempt starts.
package attempts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/instroom/instroom/storage/fsutil"
)

// Dir is an attempt log in a directory. It is safe for concurrent use; one Dir must be
// the only writer of its directory (one worker process per data directory).
type Dir struct {
	dir string
	mu  sync.Mutex
}

// Open opens (creating it) the attempt log in dir.
func Open(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("attempt log: %w", err)
	}
	return &Dir{dir: dir}, nil
}

func (d *Dir) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(d.dir, h[:2], h)
}

// Count returns the number of attempts at key that ended without an outcome.
func (d *Dir) Count(key string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read(key)
}

func (d *Dir) read(key string) (int, error) {
	b, err := os.ReadFile(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("attempt log: reading: %w", errors.Unwrap(err))
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || n < 0 {
		// A torn or foreign file counts as no attempts rather than stopping the item.
		return 0, nil
	}
	return n, nil
}

func (d *Dir) write(key string, n int) error {
	if n <= 0 {
		return d.remove(key)
	}
	if _, err := fsutil.WriteFile(d.path(key), bytes.NewReader([]byte(strconv.Itoa(n)+"\n")), 0o640); err != nil {
		return fmt.Errorf("attempt log: writing: %w", err)
	}
	return nil
}

func (d *Dir) remove(key string) error {
	err := os.Remove(d.path(key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("attempt log: removing: %w", errors.Unwrap(err))
	}
	return nil
}

// Begin records that an attempt at key starts, before it starts: if the process dies
// during the attempt, the record stays. It returns the number of earlier attempts that
// ended without an outcome.
func (d *Dir) Begin(key string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.read(key)
	if err != nil {
		return 0, err
	}
	return n, d.write(key, n+1)
}

// End records that the attempt begun with Begin ended: with struck (it ran out of time)
// the attempt keeps counting, otherwise the count goes back to what it was.
func (d *Dir) End(key string, struck bool) error {
	if struck {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.read(key)
	if err != nil {
		return err
	}
	return d.write(key, n-1)
}

// Clear forgets key: the item was settled (or is replayed by an operator).
func (d *Dir) Clear(key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.remove(key)
}
