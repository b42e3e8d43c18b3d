package ingest

import (
	"context"
	"io"
)

// SHA256Putter is a BlobStore that can take the content's SHA-256 along with it: the
// pipeline passes the hash it already has (Content.SHA256), so the store need not hash
// the content again to sign or check the upload (storage/blob's S3 over plain HTTP).
type SHA256Putter interface {
	// PutSHA256 is Put with sum, the lowercase hex SHA-256 of the content.
	PutSHA256(ctx context.Context, key string, r io.Reader, size int64, contentType, sum string) error
}
