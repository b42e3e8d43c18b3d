// Package attempts keeps, in the worker's data directory, how many attempts at an item
// ended without an outcome: the worker died during the attempt, or the attempt ran out
// of time. The count survives restarts, so an item that crashes the worker every time it
// is read can be recognised as poison and sent to the failed place instead of looping.
//
// The log is one append-only journal file, attempts/journal, of fixed-size text records
// ("B", "E" or "C", a space, the SHA-256 of the key in hex, a newline): an attempt
// begins, ends, or the item is forgotten. Keys (a source name and an item reference) are
// only stored hashed, so no citizen data ends up in the file. The worker keeps the counts
// that are not zero in memory and appends two records per item that succeeds at once;
// when the journal has grown past a megabyte it rewrites it with only the counts that are
// left.
//
// Records are not fsynced. What the log must survive is the death of the worker process
// (a crash, a kill, the OOM killer), and the kernel keeps what a dead process wrote. A
// crash of the machine itself may lose the last records, which can only make an item get
// one more attempt than it would have, never one less. (A file created, fsynced and
// removed per item cost ~2.9 ms of waiting and ~0.2 ms of CPU per item on a virtual disk.)
//
// Other processes (instroom replay) add records with Forget while the worker runs; the
// worker reads them before it answers Count or Begin.
package attempts

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// compactAt is the journal size past which the worker rewrites it.
const compactAt = 1 << 20

// Log is the attempt log of a worker. It is safe for concurrent use; one worker process
// per data directory has it open (other processes use Forget).
type Log struct {
	dir string

	mu     sync.Mutex
	f      *os.File // the journal, opened for appending
	seen   int64    // the bytes of the journal applied to counts
	counts map[[sha256.Size]byte]int
	buf    []byte // reads of the journal
	// compactAt is the journal size at which it is rewritten next.
	compactAt int64
}

// Open opens (creating it) the attempt log in dir, with the counts of earlier runs.
func Open(dir string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("attempt log: %w", err)
	}
	l := &Log{dir: dir, counts: map[[sha256.Size]byte]int{}, compactAt: compactAt}
	if err := l.migrate(); err != nil {
		return nil, fmt.Errorf("attempt log: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.compact(); err != nil {
		return nil, fmt.Errorf("attempt log: %w", err)
	}
	return l, nil
}

// Close closes the journal.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func (l *Log) journal() string { return filepath.Join(l.dir, "journal") }

func hashKey(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// Count returns the number of attempts at key that ended without an outcome.
func (l *Log) Count(key string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.catchUp(); err != nil {
		return 0, err
	}
	return l.counts[hashKey(key)], nil
}

// Pending returns the number of items with attempts counted.
func (l *Log) Pending() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.catchUp(); err != nil {
		return 0, err
	}
	return len(l.counts), nil
}

// Begin records that an attempt at key starts, before it starts: if the process dies
// during the attempt, the record stays. It returns the number of earlier attempts that
// ended without an outcome.
func (l *Log) Begin(key string) (int, error) {
	h := hashKey(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.catchUp(); err != nil {
		return 0, err
	}
	n := l.counts[h]
	return n, l.append(opBegin, h)
}

// End records that the attempt begun with Begin ended: with struck (it ran out of time)
// the attempt keeps counting, otherwise the count goes back to what it was.
func (l *Log) End(key string, struck bool) error {
	if struck {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.append(opEnd, hashKey(key))
}

// Clear forgets key: the item was settled (or is replayed by an operator).
func (l *Log) Clear(key string) error {
	h := hashKey(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.catchUp(); err != nil {
		return err
	}
	if l.counts[h] == 0 {
		return nil // nothing to forget: the usual case, an item that succeeded at once
	}
	return l.append(opClear, h)
}

// append writes one record and applies it (with any another process wrote before it).
func (l *Log) append(op byte, h [sha256.Size]byte) error {
	if l.f == nil {
		return fmt.Errorf("attempt log: closed")
	}
	rec := record(op, h)
	if _, err := l.f.Write(rec[:]); err != nil {
		return fmt.Errorf("attempt log: writing: %w", err)
	}
	if err := l.catchUp(); err != nil {
		return err
	}
	if l.seen >= l.compactAt {
		if err := l.compact(); err != nil {
			// Not the attempt's problem: the journal as it is stays in use; try again
			// when it has grown as much once more.
			l.compactAt = l.seen + compactAt
		}
	}
	return nil
}
