package attempts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/instroom/instroom/storage/fsutil"
)

const (
	opBegin = 'B'
	opEnd   = 'E'
	opClear = 'C'

	recordLen = 2 + 2*sha256.Size + 1
)

func record(op byte, h [sha256.Size]byte) [recordLen]byte {
	var r [recordLen]byte
	r[0], r[1] = op, ' '
	hex.Encode(r[2:recordLen-1], h[:])
	r[recordLen-1] = '\n'
	return r
}

// apply applies one journal line; a line that is not a record (torn by a crash of the
// machine) is skipped.
func (l *Log) apply(line []byte) {
	if len(line) != recordLen-1 || line[1] != ' ' {
		return
	}
	var h [sha256.Size]byte
	if _, err := hex.Decode(h[:], line[2:]); err != nil {
		return
	}
	switch line[0] {
	case opBegin:
		l.counts[h]++
	case opEnd:
		if l.counts[h] > 1 {
			l.counts[h]--
		} else {
			delete(l.counts, h)
		}
	case opClear:
		delete(l.counts, h)
	}
}

// catchUp applies the records of the journal past seen: the worker's own and any another
// process appended. A last line without its newline is left for later.
func (l *Log) catchUp() error {
	if l.f == nil {
		return fmt.Errorf("attempt log: closed")
	}
	if l.buf == nil {
		l.buf = make([]byte, 64*recordLen)
	}
	for {
		n, err := l.f.ReadAt(l.buf, l.seen)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("attempt log: reading: %w", err)
		}
		chunk := l.buf[:n]
		for {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				break
			}
			l.apply(chunk[:i])
			l.seen += int64(i + 1)
			chunk = chunk[i+1:]
		}
		if n < len(l.buf) {
			return nil
		}
		if len(chunk) == n { // a whole buffer without a newline: not the journal's
			l.seen += int64(n)
		}
	}
}

// compact rewrites the journal with one record per attempt still counted, under an
// exclusive lock that Forget waits for. At Open it also reads the journal of the run
// before and drops a record torn by a crash.
func (l *Log) compact() error {
	cur := l.f
	if cur == nil {
		f, err := os.OpenFile(l.journal(), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("opening journal: %w", errors.Unwrap(err))
		}
		cur, l.f, l.seen = f, f, 0
	}
	if err := syscall.Flock(int(cur.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking journal: %w", err)
	}
	f, err := l.rewrite()
	if err != nil {
		// The journal as it is stays in use.
		syscall.Flock(int(cur.Fd()), syscall.LOCK_UN)
		return err
	}
	cur.Close() // also the end of the lock; Forget then finds the new journal
	l.f, l.compactAt = f, l.seen+compactAt
	return nil
}

// rewrite writes the counts to a new journal in the place of the current one.
func (l *Log) rewrite() (*os.File, error) {
	if err := l.catchUp(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for h, n := range l.counts {
		rec := record(opBegin, h)
		for range n {
			out.Write(rec[:])
		}
	}
	size := int64(out.Len())
	if _, err := fsutil.WriteFile(l.journal(), &out, 0o640); err != nil {
		return nil, fmt.Errorf("rewriting journal: %w", err)
	}
	f, err := os.OpenFile(l.journal(), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("opening journal: %w", errors.Unwrap(err))
	}
	l.seen = size
	return f, nil
}

// Forget adds a record to the attempt log in dir that forgets key, from a process other
// than the worker (instroom replay), whether or not the worker runs: the worker reads it
// before its next Count or Begin.
func Forget(dir, key string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("attempt log: %w", err)
	}
	path := filepath.Join(dir, "journal")
	rec := record(opClear, hashKey(key))
	for {
		done, err := appendLocked(path, rec[:])
		if err != nil {
			return fmt.Errorf("attempt log: %w", err)
		}
		if done {
			return nil
		}
	}
}

// appendLocked appends rec to the journal at path under the journal's lock. It reports
// false when the worker replaced the journal between the open and the lock.
func appendLocked(path string, rec []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return false, errors.Unwrap(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("locking journal: %w", err)
	}
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, errors.Unwrap(err)
	}
	if err != nil || !os.SameFile(held, now) {
		return false, nil // compacted meanwhile: open the new journal
	}
	if _, err := f.Write(rec); err != nil {
		return false, fmt.Errorf("writing: %w", errors.Unwrap(err))
	}
	return true, nil
}

// migrate takes over the counts of the earlier layout (one file per key, named by its
// hash, in a subdirectory named by the hash's first two characters) and removes those
// files, and what a crash left of a rewrite of the journal.
func (l *Log) migrate() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := filepath.Join(l.dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), ".tmp-"):
			os.Remove(name)
		case e.IsDir() && len(e.Name()) == 2:
			if err := l.migrateDir(name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Log) migrateDir(sub string) error {
	files, err := os.ReadDir(sub)
	if err != nil {
		return err
	}
	for _, fe := range files {
		var h [sha256.Size]byte
		name := filepath.Join(sub, fe.Name())
		if _, err := hex.Decode(h[:], []byte(fe.Name())); err == nil && len(fe.Name()) == 2*sha256.Size {
			if b, err := os.ReadFile(name); err == nil {
				if n, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && n > 0 {
					l.counts[h] += n
				}
			}
		}
		if err := os.Remove(name); err != nil {
			return err
		}
	}
	return os.Remove(sub)
}
