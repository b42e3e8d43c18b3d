package mail

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The durable file operations of the Maildir source. (storage/fsutil has the same for
// the storage backends; channels do not import storage.)

// failReason is the content of a failed mail's reason file.
type failReason struct {
	Reason string    `json:"reason"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

// durableWrite writes r to path through a synced temporary file and a rename, then syncs
// the directory.
func durableWrite(path string, r io.Reader, perm os.FileMode) (int64, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return n, err
	}
	return n, syncDir(dir)
}

// durableRename moves oldpath to newpath and syncs both directories.
func durableRename(oldpath, newpath string) error {
	if err := os.MkdirAll(filepath.Dir(newpath), 0o750); err != nil {
		return err
	}
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(newpath)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(oldpath))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}

// listNew calls fn for the mails in a Maildir's new/ directory, oldest first.
func listNew(ctx context.Context, dir string, fn func(name string, size int64, modTime time.Time) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("maildir: listing: %w", err)
	}
	type ent struct {
		name string
		size int64
		mod  time.Time
	}
	var list []ent
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if info, err := e.Info(); err == nil {
			list = append(list, ent{e.Name(), info.Size(), info.ModTime()})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].mod.Equal(list[j].mod) {
			return list[i].mod.Before(list[j].mod)
		}
		return list[i].name < list[j].name
	})
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e.name, e.size, e.mod); err != nil {
			return err
		}
	}
	return nil
}
