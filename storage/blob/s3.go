package blob

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// S3Options configure an S3-compatible store.
type S3Options struct {
	// Endpoint is host[:port], without scheme.
	Endpoint string
	Region   string
	Bucket   string
	// Prefix is put before every key (may be empty).
	Prefix string
	// PathStyle forces path-style requests (MinIO, Ceph, versitygw); otherwise the SDK
	// chooses (virtual-host style for AWS).
	PathStyle bool
	// Insecure uses plain HTTP (only for loopback tests).
	Insecure bool
	// RootCAs verifies the server's certificate; nil uses the system pool.
	RootCAs *x509.CertPool
	// AccessKey and SecretKey; when both are empty the standard AWS environment variables
	// and IAM role credentials are used.
	AccessKey string
	SecretKey string
	// SSE is the server-side encryption: "" (none), "AES256" (SSE-S3) or "aws:kms".
	SSE string
	// KMSKeyID is the key for SSE "aws:kms".
	KMSKeyID string
	// PartSize for multipart uploads of large objects (default 16 MiB); it bounds the
	// memory one upload uses.
	PartSize uint64
	// SpoolDir holds temporary files for content of unknown size (default os.TempDir()).
	SpoolDir string
}

// S3 stores objects in an S3 bucket.
type S3 struct {
	c    *minio.Client
	opts S3Options
	sse  encrypt.ServerSide
}

// NewS3 returns an S3 store. It does no I/O; call Check to verify the bucket.
func NewS3(opts S3Options) (*S3, error) {
	if opts.Endpoint == "" || opts.Bucket == "" {
		return nil, errors.New("blob: s3 endpoint and bucket are required")
	}
	if opts.PartSize == 0 {
		opts.PartSize = 16 << 20
	}
	c, err := NewMinioClient(opts)
	if err != nil {
		return nil, err
	}
	sse, err := ServerSideEncryption(opts)
	if err != nil {
		return nil, err
	}
	return &S3{c: c, opts: opts, sse: sse}, nil
}

// ErrNoBucket is returned by Check when the bucket does not exist.
var ErrNoBucket = errors.New("blob: s3 bucket does not exist")

// Check verifies that the bucket exists and the credentials may use it.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.opts.Bucket)
	if err != nil {
		return fmt.Errorf("blob: checking s3 bucket: %w", describe(err))
	}
	if !ok {
		return ErrNoBucket
	}
	return nil
}

func (s *S3) key(k string) string {
	if s.opts.Prefix == "" {
		return k
	}
	return s.opts.Prefix + "/" + k
}

// Put stores r under key with a known size. When size is -1 the content is first spooled
// to a temporary file, so the upload always states its size.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if size < 0 {
		f, n, err := spool(r, s.opts.SpoolDir)
		if err != nil {
			return fmt.Errorf("blob: spooling: %w", err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		r, size = f, n
	}
	_, err := s.c.PutObject(ctx, s.opts.Bucket, s.key(key), r, size, minio.PutObjectOptions{
		ContentType: contentType, PartSize: s.opts.PartSize, ServerSideEncryption: s.sse,
	})
	if err != nil {
		return fmt.Errorf("blob: s3 put: %w", describe(err))
	}
	return nil
}

// PutSHA256 stores r like Put; sum is the lowercase hex SHA-256 of the content, which the
// caller already has (the informatieobject's integriteit). Over plain HTTP minio-go signs
// the payload in 64 KiB chunks, hashing it all again; with sum it signs sum instead (one
// header, X-Amz-Content-Sha256) and the server checks the whole body against it, so an
// upload whose bytes differ from sum is refused. Over TLS (where the payload is not
// signed), without a sum, or for content over one part, it is Put.
func (s *S3) PutSHA256(ctx context.Context, key string, r io.Reader, size int64, contentType, sum string) error {
	if !s.opts.Insecure || len(sum) != 64 || size < 0 || uint64(size) > s.opts.PartSize {
		return s.Put(ctx, key, r, size, contentType)
	}
	_, err := minio.Core{Client: s.c}.PutObject(ctx, s.opts.Bucket, s.key(key), r, size, "", sum, minio.PutObjectOptions{
		ContentType: contentType, ServerSideEncryption: s.sse, DisableContentSha256: true,
	})
	if err != nil {
		return fmt.Errorf("blob: s3 put: %w", describe(err))
	}
	return nil
}

// Get opens the object under key.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.c.GetObject(ctx, s.opts.Bucket, s.key(key), minio.GetObjectOptions{ServerSideEncryption: sseForGet(s.sse)})
	if err != nil {
		return nil, describe(err)
	}
	if _, err := o.Stat(); err != nil {
		o.Close()
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return nil, ErrNotExist
		}
		return nil, describe(err)
	}
	return o, nil
}

// String names the store for logs.
func (s *S3) String() string { return "s3:" + s.opts.Endpoint + "/" + s.opts.Bucket }

func sseForGet(sse encrypt.ServerSide) encrypt.ServerSide {
	if sse != nil && sse.Type() == encrypt.SSEC {
		return sse
	}
	return nil // SSE-S3 and SSE-KMS need no headers on GET
}

// describe keeps an S3 error's code and status but not the request details.
func describe(err error) error {
	r := minio.ToErrorResponse(err)
	if r.Code == "" {
		return err
	}
	return fmt.Errorf("%s (%d): %w", r.Code, r.StatusCode, err)
}

func spool(r io.Reader, dir string) (*os.File, int64, error) {
	f, err := os.CreateTemp(dir, "instroom-spool-*")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

// Misconfigured reports whether err from Check means the configuration is wrong (no such
// bucket, refused credentials) rather than that the server is unreachable.
func Misconfigured(err error) bool {
	if errors.Is(err, ErrNoBucket) {
		return true
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	switch resp.Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "InvalidBucketName", "AuthorizationHeaderMalformed":
		return true
	}
	return false
}
