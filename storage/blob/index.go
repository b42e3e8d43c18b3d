package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// getPutter is a store that can read back what it stored (Dir, S3).
type getPutter interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// sha256Putter is a store that takes the content's SHA-256 with it (S3; the same
// method as ingest.SHA256Putter, which this package may not import).
type sha256Putter interface {
	PutSHA256(ctx context.Context, key string, r io.Reader, size int64, contentType, sum string) error
}

// Index remembers, in a blob store, which klantcontact uuid a channel reference (an
// e-mail Message-ID) became, so that a reply links to the contact it answers. It lives
// beside the informatieobjecten under index/, one small object per reference named by
// the reference's SHA-256 (no citizen data in keys), so every replica sees the same index.
type Index struct {
	store  getPutter
	prefix string
}

// NewIndex returns the index kept in store, below prefix (may be empty).
func NewIndex(store getPutter, prefix string) *Index {
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}
	return &Index{store: store, prefix: prefix}
}

func (x *Index) key(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	h := hex.EncodeToString(sum[:])
	return x.prefix + "index/" + h[:2] + "/" + h
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Lookup returns the klantcontact uuid recorded for ref, or "" when there is none.
func (x *Index) Lookup(ctx context.Context, ref string) (string, error) {
	rc, err := x.store.Get(ctx, x.key(ref))
	if errors.Is(err, ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("blob: index lookup: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64))
	if err != nil {
		return "", fmt.Errorf("blob: index lookup: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !uuidRE.MatchString(id) {
		return "", nil // not ours; ignore rather than link to garbage
	}
	return id, nil
}

// Record records the klantcontact uuid of ref.
func (x *Index) Record(ctx context.Context, ref, klantcontactID string) error {
	r, size := strings.NewReader(klantcontactID), int64(len(klantcontactID))
	var err error
	if hp, ok := x.store.(sha256Putter); ok {
		sum := sha256.Sum256([]byte(klantcontactID))
		err = hp.PutSHA256(ctx, x.key(ref), r, size, "text/plain", hex.EncodeToString(sum[:]))
	} else {
		err = x.store.Put(ctx, x.key(ref), r, size, "text/plain")
	}
	if err != nil {
		return fmt.Errorf("blob: index record: %w", err)
	}
	return nil
}
