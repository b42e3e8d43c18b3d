// Package fsutil holds the durable file operations the local storage backends share:
// write-to-temp, fsync, rename, and fsync of the directory.
package fsutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes r to path durably: it writes a temporary file in the same directory,
// fsyncs it, renames it over path and fsyncs the directory. A crash leaves either the old
// file or the new one, never a torn one. It returns the number of bytes written.
func WriteFile(path string, r io.Reader, perm os.FileMode) (int64, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, r)
	if err != nil {
		return n, err
	}
	if err := f.Chmod(perm); err != nil {
		return n, err
	}
	if err := f.Sync(); err != nil {
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return n, err
	}
	ok = true
	return n, SyncDir(dir)
}

// Rename moves oldpath to newpath and fsyncs both directories.
func Rename(oldpath, newpath string) error {
	if err := os.MkdirAll(filepath.Dir(newpath), 0o750); err != nil {
		return err
	}
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(newpath)); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(oldpath))
}

// SyncDir fsyncs a directory so that a rename or create in it is durable.
func SyncDir(dir string) error {
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
