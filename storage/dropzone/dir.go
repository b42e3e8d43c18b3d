// Package dropzone implements drop zones: places where items arrive as files and are moved
// on when handled. Dir is a local directory: new items at the top level, handled ones in
// processed/, failed ones in failed/ with a <name>.reason.json beside them.
package dropzone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/instroom/instroom/storage/fsutil"
)

// DirOptions configure a directory drop zone.
type DirOptions struct {
	// Patterns are shell patterns (filepath.Match) a file name must match; empty: all.
	Patterns []string
	// MinAge skips files modified less than MinAge ago, so files still being written
	// are not read half (default 2s; set a negative value for none).
	MinAge time.Duration
	// Now returns the current time (tests); nil: time.Now.
	Now func() time.Time
}

// Dir is a drop zone in a local directory. It must have a single reader.
type Dir struct {
	root string
	opts DirOptions
}

// NewDir returns the drop zone rooted at dir, creating it and its processed/ and failed/
// subdirectories.
func NewDir(dir string, opts *DirOptions) (*Dir, error) {
	d := &Dir{root: dir}
	if opts != nil {
		d.opts = *opts
	}
	if d.opts.MinAge == 0 {
		d.opts.MinAge = 2 * time.Second
	}
	if d.opts.Now == nil {
		d.opts.Now = time.Now
	}
	for _, sub := range []string{"", "processed", "failed"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("dropzone: creating directory: %w", err)
		}
	}
	return d, nil
}

// String names the drop zone for logs.
func (d *Dir) String() string { return "dir:" + d.root }

// Sub returns the drop zone in the subdirectory name of d (a vendor's folder,
// <root>/<name>/) with d's options, creating it and its processed/ and failed/
// subdirectories. The name must be a single path element that does not start with "."
// and is not processed or failed.
func (d *Dir) Sub(name string) (*Dir, error) {
	if !validSub(name) {
		return nil, errInvalidSub
	}
	return NewDir(filepath.Join(d.root, name), &d.opts)
}

func (d *Dir) accept(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".part") {
		return false
	}
	if len(d.opts.Patterns) == 0 {
		return true
	}
	for _, p := range d.opts.Patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// List implements the ingest.DropZone contract: regular files at the top level that match
// the patterns and are older than MinAge, oldest first.
func (d *Dir) List(ctx context.Context, fn func(name string, size int64, modTime time.Time) error) error {
	cutoff := d.opts.Now().Add(-d.opts.MinAge)
	return listFiles(ctx, d.root, func(name string, mod time.Time) bool {
		return d.accept(name) && (d.opts.MinAge <= 0 || !mod.After(cutoff))
	}, fn)
}

func (d *Dir) file(name string) (string, error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", errors.New("dropzone: invalid item name")
	}
	return filepath.Join(d.root, name), nil
}

// Open opens an item.
func (d *Dir) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := d.file(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		// Without the path: item names can be citizen file names. errors.Is(err,
		// fs.ErrNotExist) still holds.
		return nil, fmt.Errorf("dropzone: opening item: %w", errors.Unwrap(err))
	}
	return f, nil
}

// Done moves an item to processed/.
func (d *Dir) Done(ctx context.Context, name string) error {
	p, err := d.file(name)
	if err != nil {
		return err
	}
	if err := fsutil.Rename(p, freeName(filepath.Join(d.root, "processed"), name)); err != nil {
		return fmt.Errorf("dropzone: moving to processed: %w", err)
	}
	return nil
}

// Reason is the content of a failed item's .reason.json.
type Reason struct {
	Reason string    `json:"reason"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
	// Name is the item's name when it failed: in failed/ it gets a .1, .2, … suffix when
	// the name is taken there, and Restore moves it back under this name. (Empty in
	// reason files written before it was recorded.)
	Name string `json:"name,omitempty"`
}

// Fail moves an item to failed/ and writes its reason beside it.
func (d *Dir) Fail(ctx context.Context, name, reason, detail string) error {
	p, err := d.file(name)
	if err != nil {
		return err
	}
	dst := freeName(filepath.Join(d.root, "failed"), name)
	b, _ := json.MarshalIndent(Reason{Reason: reason, Detail: detail, At: d.opts.Now().UTC(), Name: name}, "", "  ")
	if _, err := fsutil.WriteFile(dst+".reason.json", strings.NewReader(string(b)+"\n"), 0o640); err != nil {
		return fmt.Errorf("dropzone: writing reason: %w", err)
	}
	if err := fsutil.Rename(p, dst); err != nil {
		return fmt.Errorf("dropzone: moving to failed: %w", err)
	}
	return nil
}

// freeName returns dir/name, or dir/name.N when that exists already.
func freeName(dir, name string) string {
	p := filepath.Join(dir, name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
		p = filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
	}
}

// listFiles calls fn for the regular files in dir that keep accepts, oldest first (then
// by name).
func listFiles(ctx context.Context, dir string, keep func(name string, mod time.Time) bool, fn func(name string, size int64, modTime time.Time) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dropzone: listing: %w", err)
	}
	type ent struct {
		name string
		size int64
		mod  time.Time
	}
	var list []ent
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // vanished meanwhile
		}
		if keep(e.Name(), info.ModTime()) {
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
