package dropzone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/instroom/instroom/storage/fsutil"
)

// This file is the replay side of both drop zones, the ingest.FailedZone contract: list
// what is in failed/ with its reason, and move an item back to the top level under the
// name it had when it failed (instroom replay), removing its reason file.

const reasonSuffix = ".reason.json"

// failedEntry is one item in failed/ with what its reason file says.
type failedEntry struct {
	name   string
	origin string
	reason string
	at     time.Time
	size   int64
}

// decodeReasonFile returns the reason file's content, the zero Reason when it cannot be
// read or decoded.
func decodeReasonFile(r io.Reader) Reason {
	var v Reason
	if err := json.NewDecoder(io.LimitReader(r, maxReasonSize)).Decode(&v); err != nil {
		return Reason{}
	}
	return v
}

// origin is the name a failed item goes back to: the name its reason file records, or
// its name in failed/ when none (or no valid one) is recorded.
func (r Reason) origin(name string) string {
	if r.Name != "" && storeName(r.Name) {
		return r.Name
	}
	return name
}

// isFailedItem reports whether a name in failed/ is an item: not a reason file, a hidden
// or temporary file.
func isFailedItem(name string) bool {
	return storeName(name) && !strings.HasSuffix(name, reasonSuffix)
}

// emit sorts entries by failure time (then name) and calls fn for each.
func emit(ctx context.Context, list []failedEntry, fn func(name, origin, reason string, at time.Time, size int64) error) error {
	slices.SortFunc(list, func(a, b failedEntry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e.name, e.origin, e.reason, e.at, e.size); err != nil {
			return err
		}
	}
	return nil
}

// ListFailed implements ingest.FailedZone: the regular files in failed/ other than
// reason files, oldest failure first. An item without a readable reason file is listed
// with reason "" and its modification time.
func (d *Dir) ListFailed(ctx context.Context, fn func(name, origin, reason string, at time.Time, size int64) error) error {
	dir := filepath.Join(d.root, "failed")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dropzone: listing failed items: %w", pathless(err))
	}
	var list []failedEntry
	for _, e := range ents {
		if !e.Type().IsRegular() || !isFailedItem(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // vanished meanwhile
		}
		r := d.readReason(e.Name())
		at := r.At
		if at.IsZero() {
			at = info.ModTime()
		}
		list = append(list, failedEntry{name: e.Name(), origin: r.origin(e.Name()), reason: r.Reason, at: at, size: info.Size()})
	}
	return emit(ctx, list, fn)
}

func (d *Dir) readReason(name string) Reason {
	f, err := os.Open(filepath.Join(d.root, "failed", name+reasonSuffix))
	if err != nil {
		return Reason{}
	}
	defer f.Close()
	return decodeReasonFile(f)
}

// OpenFailed implements ingest.FailedZone.
func (d *Dir) OpenFailed(ctx context.Context, name string) (io.ReadCloser, error) {
	return d.OpenAt(ctx, PlaceFailed, name)
}

// Restore implements ingest.FailedZone: a hard link at the top level, which fails when
// the name is taken, then the removal of the failed copy and of its reason file. Where the
// file system has no hard links it checks the name and renames.
func (d *Dir) Restore(ctx context.Context, name string, fresh bool) (string, error) {
	if !isFailedItem(name) {
		return "", errInvalidName
	}
	src := filepath.Join(d.root, "failed", name)
	ok, err := isFile(src)
	if err != nil {
		return "", fmt.Errorf("dropzone: restoring item: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("dropzone: restoring item: not in failed/: %w", fs.ErrNotExist)
	}
	origin := d.readReason(name).origin(name)
	if fresh {
		now := d.opts.Now()
		if err := os.Chtimes(src, now, now); err != nil {
			return "", fmt.Errorf("dropzone: restoring item: %w", pathless(err))
		}
	}
	if err := moveNoReplace(src, filepath.Join(d.root, origin)); err != nil {
		return "", fmt.Errorf("dropzone: restoring item: %w", err)
	}
	if err := os.Remove(src + reasonSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return origin, fmt.Errorf("dropzone: removing reason: %w", pathless(err))
	}
	if err := fsutil.SyncDir(filepath.Dir(src)); err != nil {
		return origin, fmt.Errorf("dropzone: removing reason: %w", pathless(err))
	}
	return origin, nil
}

// moveNoReplace moves src to dst unless dst exists (an error wrapping fs.ErrExist), and
// syncs both directories.
func moveNoReplace(src, dst string) error {
	err := os.Link(src, dst)
	switch {
	case err == nil:
		if err := os.Remove(src); err != nil {
			return pathless(err)
		}
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("an item of that name waits already: %w", fs.ErrExist)
	default: // no hard links here
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("an item of that name waits already: %w", fs.ErrExist)
		}
		if err := os.Rename(src, dst); err != nil {
			return pathless(err)
		}
	}
	if err := fsutil.SyncDir(filepath.Dir(dst)); err != nil {
		return pathless(err)
	}
	return pathless(fsutil.SyncDir(filepath.Dir(src)))
}

// ListFailed implements ingest.FailedZone: the objects directly under failed/ other than
// reason files, oldest failure first, each with its reason file read (one GET each).
func (z *S3Zone) ListFailed(ctx context.Context, fn func(name, origin, reason string, at time.Time, size int64) error) error {
	prefix, _ := z.placePrefix(PlaceFailed)
	noOwner := false
	opts := minio.ListObjectsOptions{Prefix: prefix, FetchOwner: &noOwner}
	reasons := map[string]bool{}
	var list []failedEntry
	for o := range z.c.ListObjectsIter(ctx, z.bucket, opts) {
		if o.Err != nil {
			return fmt.Errorf("dropzone: listing failed items: %w", describe(o.Err))
		}
		name := strings.TrimPrefix(o.Key, prefix)
		switch {
		case name == "" || strings.Contains(name, "/"):
		case strings.HasSuffix(name, reasonSuffix):
			reasons[name] = true
		case isFailedItem(name):
			list = append(list, failedEntry{name: name, origin: name, at: o.LastModified, size: o.Size})
		}
	}
	if err := ctx.Err(); err != nil { // the iterator ends silently when ctx is done
		return fmt.Errorf("dropzone: listing failed items: %w", err)
	}
	for i, e := range list {
		if !reasons[e.name+reasonSuffix] {
			continue
		}
		r := z.readReason(ctx, e.name)
		list[i].origin, list[i].reason = r.origin(e.name), r.Reason
		if !r.At.IsZero() {
			list[i].at = r.At
		}
	}
	return emit(ctx, list, fn)
}

func (z *S3Zone) readReason(ctx context.Context, name string) Reason {
	prefix, _ := z.placePrefix(PlaceFailed)
	body, _, _, err := minio.Core{Client: z.c}.GetObject(ctx, z.bucket, prefix+name+reasonSuffix, minio.GetObjectOptions{})
	if err != nil {
		return Reason{}
	}
	defer body.Close()
	return decodeReasonFile(body)
}

// OpenFailed implements ingest.FailedZone.
func (z *S3Zone) OpenFailed(ctx context.Context, name string) (io.ReadCloser, error) {
	return z.OpenAt(ctx, PlaceFailed, name)
}

// Restore implements ingest.FailedZone: a server-side copy to the top level, then the
// deletes of the failed copy and its reason file (see Done). The copy gets a new
// LastModified whatever fresh says: S3 has no rename. The name is checked free first; a
// vendor writing the same name at that moment may still be overwritten by the copy (or
// overwrite it), as with any two writers of one key.
func (z *S3Zone) Restore(ctx context.Context, name string, fresh bool) (string, error) {
	if !isFailedItem(name) {
		return "", errInvalidName
	}
	prefix, _ := z.placePrefix(PlaceFailed)
	src := prefix + name
	info, err := z.c.StatObject(ctx, z.bucket, src, minio.StatObjectOptions{})
	if err != nil {
		return "", fmt.Errorf("dropzone: restoring item: %w", describe(err))
	}
	origin := z.readReason(ctx, name).origin(name)
	dst := z.prefix + origin
	_, err = z.c.StatObject(ctx, z.bucket, dst, minio.StatObjectOptions{})
	switch {
	case err == nil:
		return "", fmt.Errorf("dropzone: restoring item: an item of that name waits already: %w", fs.ErrExist)
	case !notFound(err):
		return "", fmt.Errorf("dropzone: restoring item: %w", describe(err))
	}
	if err := z.move(ctx, src, dst, info.Size); err != nil {
		return "", fmt.Errorf("dropzone: restoring item: %w", err)
	}
	if err := z.c.RemoveObject(ctx, z.bucket, src+reasonSuffix, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return origin, fmt.Errorf("dropzone: removing reason: %w", describe(err))
	}
	return origin, nil
}
