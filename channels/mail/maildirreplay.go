package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/instroom/instroom/ingest"
)

// The replay side of the Maildir (ingest.FailedZone): failed mail sits in the failed
// folder's cur/ (new/ too, should a mail client have put it there) as <name>:2,<flags>,
// its reason in instroom-reasons/<name>.json. Restore moves it back into new/ as <name>,
// the name it had when it failed.

var _ ingest.FailedZone = (*Maildir)(nil)

// failedFolder is the directory of the failed folder.
func (m *Maildir) failedFolder() string { return filepath.Join(m.root, m.folder(m.opts.FailedFolder)) }

// baseName is a Maildir file name without its info part (":2,<flags>").
func baseName(name string) string {
	if i := strings.Index(name, ":2,"); i >= 0 {
		return name[:i]
	}
	return name
}

type failedMail struct {
	name, origin, reason string
	at                   time.Time
	size                 int64
}

// ListFailed implements ingest.FailedZone, oldest failure first.
func (m *Maildir) ListFailed(ctx context.Context, fn func(name, origin, reason string, at time.Time, size int64) error) error {
	var list []failedMail
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(m.failedFolder(), sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("maildir: listing failed mail: %w", errors.Unwrap(err))
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // vanished meanwhile
			}
			origin := baseName(e.Name())
			r := m.readReason(origin)
			at := r.At
			if at.IsZero() {
				at = info.ModTime()
			}
			list = append(list, failedMail{name: e.Name(), origin: origin, reason: r.Reason, at: at, size: info.Size()})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].at.Equal(list[j].at) {
			return list[i].at.Before(list[j].at)
		}
		return list[i].name < list[j].name
	})
	for _, f := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(f.name, f.origin, f.reason, f.at, f.size); err != nil {
			return err
		}
	}
	return nil
}

func (m *Maildir) reasonFile(origin string) string {
	return filepath.Join(m.failedFolder(), "instroom-reasons", origin+".json")
}

func (m *Maildir) readReason(origin string) failReason {
	var r failReason
	b, err := os.ReadFile(m.reasonFile(origin))
	if err == nil && len(b) <= 64<<10 {
		_ = json.Unmarshal(b, &r) // an unreadable reason is no reason
	}
	return r
}

// failedPath finds the failed mail name in cur/ or new/ of the failed folder.
func (m *Maildir) failedPath(name string) (string, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return "", errors.New("maildir: invalid mail name")
	}
	for _, sub := range []string{"cur", "new"} {
		p := filepath.Join(m.failedFolder(), sub, name)
		if info, err := os.Lstat(p); err == nil && info.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("maildir: not in the failed folder: %w", fs.ErrNotExist)
}

// OpenFailed implements ingest.FailedZone.
func (m *Maildir) OpenFailed(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := m.failedPath(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("maildir: opening failed mail: %w", errors.Unwrap(err))
	}
	return f, nil
}

// Restore implements ingest.FailedZone: the mail goes back into new/ under its name
// without flags (a hard link, which fails when the name is taken, then the removal of the
// failed copy), and its reason file is removed.
func (m *Maildir) Restore(ctx context.Context, name string, fresh bool) (string, error) {
	src, err := m.failedPath(name)
	if err != nil {
		return "", err
	}
	origin := baseName(name)
	if fresh {
		now := m.opts.Now()
		if err := os.Chtimes(src, now, now); err != nil {
			return "", fmt.Errorf("maildir: restoring mail: %w", errors.Unwrap(err))
		}
	}
	dst := filepath.Join(m.root, "new", origin)
	if err := moveNoReplace(src, dst); err != nil {
		return "", fmt.Errorf("maildir: restoring mail: %w", err)
	}
	for _, dir := range []string{filepath.Dir(dst), filepath.Dir(src)} {
		if err := syncDir(dir); err != nil {
			return origin, fmt.Errorf("maildir: restoring mail: %w", err)
		}
	}
	if err := os.Remove(m.reasonFile(origin)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return origin, fmt.Errorf("maildir: removing reason: %w", errors.Unwrap(err))
	}
	return origin, nil
}

// moveNoReplace moves src to dst unless dst exists (an error wrapping fs.ErrExist): a
// hard link, which fails when dst exists, then the removal of src; where the file system
// has no hard links, a check and a rename. Errors carry no paths.
func moveNoReplace(src, dst string) error {
	err := os.Link(src, dst)
	switch {
	case err == nil:
		if err := os.Remove(src); err != nil {
			return errors.Unwrap(err)
		}
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("a mail of that name waits already: %w", fs.ErrExist)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("a mail of that name waits already: %w", fs.ErrExist)
	}
	if err := os.Rename(src, dst); err != nil {
		return errors.Unwrap(err)
	}
	return nil
}
