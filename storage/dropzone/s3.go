package dropzone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/instroom/instroom/storage/blob"
)

// S3 limits for a server-side copy: CopyObject copies at most 5 GiB; larger objects are
// copied in parts (UploadPartCopy) of 5 MiB to 5 GiB each, at most 10,000 of them.
const (
	maxCopySize  = 5 << 30
	minCopyPart  = 5 << 20
	maxCopyParts = 10000
)

// S3ZoneOptions configure an S3 drop zone. Patterns, MinAge and Now mean what they mean
// in DirOptions.
type S3ZoneOptions struct {
	// Patterns are shell patterns (filepath.Match) an object's name must match; empty: all.
	Patterns []string
	// MinAge skips objects whose LastModified is less than MinAge ago (default 2s; set a
	// negative value for none). An S3 object is only visible once it is whole, so here
	// MinAge only gives a vendor time to deliver the rest of a set (a scan and its
	// sidecar). LastModified is the server's clock and the cutoff ours: clock skew moves
	// the moment an item is read, never what is read.
	MinAge time.Duration
	// Now returns the current time (tests); nil: time.Now.
	Now func() time.Time
	// CopyPartSize is the largest object moved with a single server-side CopyObject;
	// larger objects are copied in parts of this size (more when 10,000 parts would not
	// hold the object). Default and maximum 5 GiB, S3's limit for one copy; minimum 5 MiB.
	CopyPartSize int64
}

// S3Zone is a drop zone under a prefix of an S3 bucket, the twin of Dir: new items are the
// objects directly under <bucket>/<prefix>/, handled ones move to <prefix>/processed/,
// failed ones to <prefix>/failed/ with a <name>.reason.json beside them. Objects in
// deeper "folders" (processed/, failed/, a vendor's folder) are never listed. It must have
// a single reader.
//
// S3 has no rename: a move is a server-side copy followed by a delete of the original.
// Interrupted multipart copies (objects over CopyPartSize) leave parts behind; give the
// bucket a lifecycle rule that aborts incomplete multipart uploads.
type S3Zone struct {
	c      *minio.Client
	bucket string
	prefix string // "" (the bucket's root) or ending in "/"
	sse    encrypt.ServerSide
	opts   S3ZoneOptions
}

// NewS3Zone returns the drop zone at conn.Bucket under conn.Prefix, reached over the
// connection in conn (endpoint, TLS, credentials, SSE for what it writes; see
// blob.S3Options). conn.PartSize and conn.SpoolDir are not used. It does no I/O; call
// Check to verify the bucket.
func NewS3Zone(conn blob.S3Options, opts *S3ZoneOptions) (*S3Zone, error) {
	if conn.Endpoint == "" || conn.Bucket == "" {
		return nil, errors.New("dropzone: s3 endpoint and bucket are required")
	}
	prefix, ok := cleanPrefix(conn.Prefix)
	if !ok {
		return nil, errors.New("dropzone: s3 prefix has an empty, \".\" or \"..\" segment")
	}
	z := &S3Zone{bucket: conn.Bucket, prefix: prefix}
	if opts != nil {
		z.opts = *opts
	}
	if z.opts.MinAge == 0 {
		z.opts.MinAge = 2 * time.Second
	}
	if z.opts.Now == nil {
		z.opts.Now = time.Now
	}
	switch {
	case z.opts.CopyPartSize == 0:
		z.opts.CopyPartSize = maxCopySize
	case z.opts.CopyPartSize < minCopyPart || z.opts.CopyPartSize > maxCopySize:
		return nil, errors.New("dropzone: s3 copy part size must be between 5 MiB and 5 GiB")
	}
	c, err := blob.NewMinioClient(conn)
	if err != nil {
		return nil, err
	}
	if z.sse, err = blob.ServerSideEncryption(conn); err != nil {
		return nil, err
	}
	z.c = c
	return z, nil
}

// cleanPrefix turns "a/b", "/a/b/" or "" into "a/b/" or "".
func cleanPrefix(p string) (string, bool) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", true
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return "", false
		}
	}
	return p + "/", true
}

// Sub returns the drop zone in the folder name below z (a vendor's folder,
// <prefix>/<name>/), with z's connection and options. The name must be a single path
// element that does not start with "." and is not processed or failed.
func (z *S3Zone) Sub(name string) (*S3Zone, error) {
	if !validSub(name) {
		return nil, errInvalidSub
	}
	s := *z
	s.prefix = z.prefix + name + "/"
	return &s, nil
}

var errInvalidSub = errors.New("dropzone: invalid sub-zone name")

// validSub reports whether name may name a sub-zone (Dir.Sub, S3Zone.Sub): one path
// element, not hidden (which also excludes "." and ".."), and not one of the folders
// handled items move to.
func validSub(name string) bool {
	return name != "" && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".") &&
		name != "processed" && name != "failed"
}

// String names the drop zone for logs: "s3:<bucket>/<prefix>", without endpoint or
// credentials.
func (z *S3Zone) String() string { return "s3:" + z.bucket + "/" + strings.TrimSuffix(z.prefix, "/") }

// ErrNoBucket is returned by S3Zone.Check when the bucket does not exist.
var ErrNoBucket = errors.New("dropzone: s3 bucket does not exist")

// Check verifies that the bucket exists and that the credentials may list the zone's
// prefix, which is what List needs. Use Misconfigured to tell a wrong configuration from
// an unreachable server.
func (z *S3Zone) Check(ctx context.Context) error {
	for o := range z.c.ListObjectsIter(ctx, z.bucket, z.listOptions(1)) {
		if o.Err != nil {
			if code(o.Err) == "NoSuchBucket" {
				return ErrNoBucket
			}
			return fmt.Errorf("dropzone: checking s3 prefix: %w", describe(o.Err))
		}
		break // one answer is enough
	}
	if err := ctx.Err(); err != nil { // the iterator ends silently when ctx is done
		return fmt.Errorf("dropzone: checking s3 prefix: %w", err)
	}
	return nil
}

// Misconfigured reports whether err from S3Zone.Check means the configuration is wrong
// (no such bucket, refused credentials) rather than that the server is unreachable.
func Misconfigured(err error) bool {
	if errors.Is(err, ErrNoBucket) {
		return true
	}
	switch code(err) {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "InvalidBucketName", "AuthorizationHeaderMalformed":
		return true
	}
	return false
}

func (z *S3Zone) listOptions(maxKeys int) minio.ListObjectsOptions {
	noOwner := false
	// Not Recursive: the listing is delimited at "/", so deeper folders come back as
	// one common prefix each instead of all their objects.
	return minio.ListObjectsOptions{Prefix: z.prefix, MaxKeys: maxKeys, FetchOwner: &noOwner}
}

// List implements the ingest.DropZone contract: objects directly under the prefix that
// match the patterns and are older than MinAge, oldest first (then by name). It pages
// through listings of any length.
func (z *S3Zone) List(ctx context.Context, fn func(name string, size int64, modTime time.Time) error) error {
	cutoff := z.opts.Now().Add(-z.opts.MinAge)
	type ent struct {
		name string
		size int64
		mod  time.Time
	}
	var list []ent
	for o := range z.c.ListObjectsIter(ctx, z.bucket, z.listOptions(0)) {
		if o.Err != nil {
			return fmt.Errorf("dropzone: listing: %w", describe(o.Err))
		}
		name := strings.TrimPrefix(o.Key, z.prefix)
		if name == "" || strings.Contains(name, "/") {
			continue // the prefix's own folder marker, or a folder (common prefix)
		}
		if acceptName(z.opts.Patterns, name) && (z.opts.MinAge <= 0 || !o.LastModified.After(cutoff)) {
			list = append(list, ent{name, o.Size, o.LastModified})
		}
	}
	if err := ctx.Err(); err != nil { // the iterator ends silently when ctx is done
		return fmt.Errorf("dropzone: listing: %w", err)
	}
	slices.SortFunc(list, func(a, b ent) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
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

// acceptName is Dir's filter: no hidden or temporary names, and a match with one of the
// patterns when there are any.
func acceptName(patterns []string, name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".part") {
		return false
	}
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// key returns the object key of the item name, which must be a plain name like Dir's.
func (z *S3Zone) key(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return "", errors.New("dropzone: invalid item name")
	}
	return z.prefix + name, nil
}

// Open streams an item from S3; it is never read whole into memory. When the object does
// not exist (any more) the error wraps fs.ErrNotExist.
func (z *S3Zone) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	key, err := z.key(name)
	if err != nil {
		return nil, err
	}
	// One GET whose body is handed over as it arrives. (minio.Client.GetObject would send
	// a HEAD first and the GET only at the first Read, so a vanished item would show up
	// as a read error instead of here.)
	body, _, _, err := minio.Core{Client: z.c}.GetObject(ctx, z.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("dropzone: opening item: %w", describe(err))
	}
	return body, nil
}

// code returns the S3 error code in err's chain ("" if none).
func code(err error) string {
	var r minio.ErrorResponse
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// notFound reports whether err says that an object (not the bucket) does not exist.
func notFound(err error) bool {
	var r minio.ErrorResponse
	if !errors.As(err, &r) {
		return false
	}
	return r.Code == "NoSuchKey" || (r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket")
}

// s3Error is an S3 failure reduced to what may be logged. minio-go's errors can hold the
// object key, hence an item's name, which may be a citizen's file name: a url.Error
// quotes the request URL, and a server's message may quote the key. The original stays
// in the chain for errors.Is and errors.As; a missing object also matches fs.ErrNotExist.
type s3Error struct {
	msg     string
	err     error
	missing bool
}

func (e *s3Error) Error() string { return e.msg }

func (e *s3Error) Unwrap() []error {
	if e.missing {
		return []error{fs.ErrNotExist, e.err}
	}
	return []error{e.err}
}

// describe returns err without item names: an S3 error as its code and HTTP status, a
// transport error without its URL.
func describe(err error) error {
	var r minio.ErrorResponse
	if errors.As(err, &r) && r.Code != "" {
		e := &s3Error{msg: fmt.Sprintf("s3 %s (%d)", r.Code, r.StatusCode), err: err, missing: notFound(err)}
		if e.missing {
			e.msg += ": " + fs.ErrNotExist.Error()
		}
		return e
	}
	var u *url.Error
	if errors.As(err, &u) {
		return &s3Error{msg: u.Op + ": " + u.Err.Error(), err: err}
	}
	return err
}
