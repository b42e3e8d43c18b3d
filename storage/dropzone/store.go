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
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/instroom/instroom/storage/fsutil"
)

// This file is the write side of both drop zones, the ingest.DropStore contract: the
// intake API writes a pushed item into a zone exactly as a vendor delivering files would,
// and finds it there again for idempotency and status.

// The places of an item, as Locate returns them and OpenAt takes them. They are plain
// ints with the values of ingest.PlaceNone, ingest.PlaceTop, ingest.PlaceProcessed and
// ingest.PlaceFailed (ingest.Place is an alias of int), so that Dir and S3Zone satisfy
// ingest.DropStore by shape.
const (
	PlaceNone      = iota // not there
	PlaceTop              // at the top level: delivered, waiting to be handled
	PlaceProcessed        // in processed/
	PlaceFailed           // in failed/, with a <name>.reason.json beside it
)

// maxReasonSize bounds what Locate reads of a reason file; Fail writes far less.
const maxReasonSize = 64 << 10

var (
	errInvalidName  = errors.New("dropzone: invalid item name")
	errInvalidPlace = errors.New("dropzone: invalid place")
	// errSize has no package prefix: it is wrapped by the method that meets it.
	errSize = errors.New("content is not of the declared size")
)

// storeName reports whether name may name an item for Put, Remove, Locate and OpenAt: a
// single path element that List would not ignore as hidden or temporary (so "", "." and
// ".." are out too). Patterns are not checked: they filter deliveries, not pushes.
func storeName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "/\\\x00") && !strings.HasPrefix(name, ".") &&
		!strings.HasSuffix(name, ".tmp") && !strings.HasSuffix(name, ".part")
}

// sizedReader passes r on and fails unless r holds exactly size bytes. It reads the last
// byte together with a probe for more, so a surplus is found before the last byte is
// handed over: a writer streaming it then breaks off short (an HTTP PUT with a
// Content-Length fails) instead of completing a truncated copy.
//
// It is locked because an HTTP transport may still read a request body after the request
// returned (net/http.RoundTripper), while the caller asks for its failure.
type sizedReader struct {
	mu   sync.Mutex
	r    io.Reader
	left int64
	err  error // sticky: io.EOF once all was read
}

func newSizedReader(r io.Reader, size int64) *sizedReader {
	return &sizedReader{r: r, left: size}
}

// failure returns the error the reader met, nil if none (or only io.EOF).
func (s *sizedReader) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

func (s *sizedReader) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.left > 1 {
		p = p[:min(int64(len(p)), s.left-1)]
		n, err := s.r.Read(p)
		s.left -= int64(n)
		if err == io.EOF {
			err = errSize // less than declared
		}
		s.err = err
		return n, err
	}
	var b [2]byte
	n, err := io.ReadFull(s.r, b[:s.left+1])
	switch {
	case err != nil && err != io.EOF && err != io.ErrUnexpectedEOF:
		s.err = err
	case int64(n) != s.left:
		s.err = errSize // less or more than declared
	}
	if s.err != nil {
		return 0, s.err
	}
	s.left = 0
	s.err = io.EOF
	return copy(p, b[:n]), nil
}

// decodeReason returns the reason code in the content of a reason file, "" when it cannot
// be read or decoded.
func decodeReason(r io.Reader) string {
	var v Reason
	if err := json.NewDecoder(io.LimitReader(r, maxReasonSize)).Decode(&v); err != nil {
		return ""
	}
	return v.Reason
}

// Put writes the item name at the top level durably, replacing a file of that name: it
// writes a hidden temporary file (".tmp-…", which List ignores) in the zone's directory,
// syncs it, renames it to name and syncs the directory. When r does not hold exactly size
// bytes nothing is left behind and an existing file stays as it was.
func (d *Dir) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if !storeName(name) {
		return errInvalidName
	}
	if size < 0 {
		return errSize
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dropzone: writing item: %w", err)
	}
	if _, err := fsutil.WriteFile(filepath.Join(d.root, name), newSizedReader(r, size), 0o640); err != nil {
		return fmt.Errorf("dropzone: writing item: %w", pathless(err))
	}
	return nil
}

// Remove deletes the item name from the top level and syncs the directory. A missing
// name is no error; anything there that is not a regular file (a vendor's folder) is left
// alone.
func (d *Dir) Remove(ctx context.Context, name string) error {
	if !storeName(name) {
		return errInvalidName
	}
	p := filepath.Join(d.root, name)
	ok, err := isFile(p)
	if err != nil {
		return fmt.Errorf("dropzone: removing item: %w", err)
	}
	if !ok {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dropzone: removing item: %w", pathless(err))
	}
	if err := fsutil.SyncDir(d.root); err != nil {
		return fmt.Errorf("dropzone: removing item: %w", pathless(err))
	}
	return nil
}

// Locate says where the item name is, looking at the top level, then in processed/, then
// in failed/; only regular files of exactly that name count. For PlaceFailed it also
// returns the reason code of name.reason.json ("" when that is missing or unreadable).
func (d *Dir) Locate(ctx context.Context, name string) (int, string, error) {
	if !storeName(name) {
		return PlaceNone, "", errInvalidName
	}
	for _, place := range []int{PlaceTop, PlaceProcessed, PlaceFailed} {
		p := filepath.Join(d.placeDir(place), name)
		ok, err := isFile(p)
		if err != nil {
			return PlaceNone, "", fmt.Errorf("dropzone: locating item: %w", err)
		}
		if !ok {
			continue
		}
		if place != PlaceFailed {
			return place, "", nil
		}
		f, err := os.Open(p + ".reason.json")
		if err != nil {
			return place, "", nil
		}
		defer f.Close()
		return place, decodeReason(f), nil
	}
	return PlaceNone, "", nil
}

// OpenAt opens the item name at place (PlaceTop, PlaceProcessed or PlaceFailed). When it
// is not there (or not a regular file) the error wraps fs.ErrNotExist.
func (d *Dir) OpenAt(ctx context.Context, place int, name string) (io.ReadCloser, error) {
	if !storeName(name) {
		return nil, errInvalidName
	}
	dir := d.placeDir(place)
	if dir == "" {
		return nil, errInvalidPlace
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("dropzone: opening item: %w", pathless(err))
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("dropzone: opening item: not a file: %w", fs.ErrNotExist)
	}
	return f, nil
}

// placeDir returns the directory of a place, "" for PlaceNone and unknown places.
func (d *Dir) placeDir(place int) string {
	switch place {
	case PlaceTop:
		return d.root
	case PlaceProcessed:
		return filepath.Join(d.root, "processed")
	case PlaceFailed:
		return filepath.Join(d.root, "failed")
	}
	return ""
}

// isFile reports whether p is a regular file (not following a symbolic link, as List).
func isFile(p string) (bool, error) {
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, pathless(err)
	}
	return info.Mode().IsRegular(), nil
}

// pathless strips the path from an *fs.PathError or *os.LinkError (item names can be
// citizen file names); errors.Is(err, fs.ErrNotExist) still holds.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// Put writes the item name at the top level with one PUT of exactly size bytes, streamed,
// replacing an object of that name. S3 stores an object whole or not at all: when r does
// not hold exactly size bytes the PUT breaks off and nothing is stored (an existing object
// stays as it was). Without multipart, one PUT carries at most 5 GiB on AWS.
func (z *S3Zone) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if !storeName(name) {
		return errInvalidName
	}
	if size < 0 {
		return errSize // never -1: minio-go would buffer a 500 MiB part
	}
	sr := newSizedReader(r, size)
	var body io.Reader = sr
	if size == 0 {
		// minio-go may not read an empty body at all: look for a surplus here.
		if _, err := sr.Read(make([]byte, 1)); err != nil {
			return fmt.Errorf("dropzone: writing item: %w", err)
		}
		body = strings.NewReader("")
	}
	_, err := z.c.PutObject(ctx, z.bucket, z.prefix+name, body, size,
		minio.PutObjectOptions{DisableMultipart: true, ServerSideEncryption: z.sse})
	if err != nil {
		if f := sr.failure(); f != nil {
			err = f // the reader's failure, not how the transport reported it
		}
		return fmt.Errorf("dropzone: writing item: %w", describe(err))
	}
	return nil
}

// Remove deletes the item name from the top level. A missing name is no error.
func (z *S3Zone) Remove(ctx context.Context, name string) error {
	if !storeName(name) {
		return errInvalidName
	}
	if err := z.c.RemoveObject(ctx, z.bucket, z.prefix+name, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("dropzone: removing item: %w", describe(err))
	}
	return nil
}

// Locate says where the item name is, looking at the top level, then in processed/, then
// in failed/; only objects of exactly that name count. For PlaceFailed it also returns the
// reason code of name.reason.json ("" when that is missing or unreadable).
func (z *S3Zone) Locate(ctx context.Context, name string) (int, string, error) {
	if !storeName(name) {
		return PlaceNone, "", errInvalidName
	}
	for _, place := range []int{PlaceTop, PlaceProcessed, PlaceFailed} {
		prefix, _ := z.placePrefix(place)
		key := prefix + name
		_, err := z.c.StatObject(ctx, z.bucket, key, minio.StatObjectOptions{})
		if notFound(err) {
			continue
		}
		if err != nil {
			return PlaceNone, "", fmt.Errorf("dropzone: locating item: %w", describe(err))
		}
		if place != PlaceFailed {
			return place, "", nil
		}
		body, _, _, err := minio.Core{Client: z.c}.GetObject(ctx, z.bucket, key+".reason.json", minio.GetObjectOptions{})
		if err != nil {
			return place, "", nil
		}
		defer body.Close()
		return place, decodeReason(body), nil
	}
	return PlaceNone, "", nil
}

// OpenAt streams the item name at place (PlaceTop, PlaceProcessed or PlaceFailed). When it
// is not there the error wraps fs.ErrNotExist.
func (z *S3Zone) OpenAt(ctx context.Context, place int, name string) (io.ReadCloser, error) {
	if !storeName(name) {
		return nil, errInvalidName
	}
	prefix, ok := z.placePrefix(place)
	if !ok {
		return nil, errInvalidPlace
	}
	body, _, _, err := minio.Core{Client: z.c}.GetObject(ctx, z.bucket, prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("dropzone: opening item: %w", describe(err))
	}
	return body, nil
}

// placePrefix returns the key prefix of a place; false for PlaceNone and unknown places.
// (The top level's prefix is "" in a zone at the bucket's root.)
func (z *S3Zone) placePrefix(place int) (string, bool) {
	switch place {
	case PlaceTop:
		return z.prefix, true
	case PlaceProcessed:
		return z.prefix + "processed/", true
	case PlaceFailed:
		return z.prefix + "failed/", true
	}
	return "", false
}
