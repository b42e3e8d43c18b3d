package blob_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
)

// store is what both backends offer.
type store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

func get(t *testing.T, s store, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s) = %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testStore is the contract every blob store meets.
func testStore(t *testing.T, s store) {
	ctx := context.Background()
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	cases := []struct {
		key, content string
		size         int64
	}{
		{"kc/a.eml", "From: a\r\n\r\nbody", -2},
		{"kc/empty.txt", "", -2},
		{"kc/big.bin", big, -2},
		{"kc/unknown-size.bin", big, -1},
	}
	for _, c := range cases {
		size := c.size
		if size == -2 {
			size = int64(len(c.content))
		}
		// A reader that returns short reads, as network streams do.
		if err := s.Put(ctx, c.key, iotest.HalfReader(strings.NewReader(c.content)), size, "application/octet-stream"); err != nil {
			t.Fatalf("Put(%s) = %v", c.key, err)
		}
		if got := get(t, s, c.key); sha256.Sum256(got) != sha256.Sum256([]byte(c.content)) {
			t.Errorf("Get(%s) returned %d bytes, want the %d put", c.key, len(got), len(c.content))
		}
	}
	// Overwrite: a retried item replaces its object.
	if err := s.Put(ctx, "kc/a.eml", strings.NewReader("nieuw"), 5, "message/rfc822"); err != nil {
		t.Fatal(err)
	}
	if got := string(get(t, s, "kc/a.eml")); got != "nieuw" {
		t.Errorf("after overwrite Get = %q, want nieuw", got)
	}
	if _, err := s.Get(ctx, "kc/missing"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Get(missing) = %v, want ErrNotExist", err)
	}
}

func TestContractDir(t *testing.T) {
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, d)
}

func TestContractS3(t *testing.T) {
	srv := ingesttest.StartS3(t, nil)
	srv.CreateBucket(t, "instroom")
	s, err := blob.NewS3(blob.S3Options{Endpoint: srv.Endpoint, Bucket: "instroom", Region: "us-east-1", PathStyle: true, Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Prefix: "gemeente", PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("Check = %v", err)
	}
	testStore(t, s)
}

func TestS3TLSAndChecks(t *testing.T) {
	ca := ingesttest.NewTestCA(t, t.TempDir())
	srv := ingesttest.StartS3(t, ca)
	srv.CreateBucket(t, "instroom")
	ctx := context.Background()
	mk := func(bucket, secret string) *blob.S3 {
		s, err := blob.NewS3(blob.S3Options{Endpoint: srv.Endpoint, Bucket: bucket, Region: "us-east-1", PathStyle: true,
			RootCAs: ca.Pool, AccessKey: srv.AccessKey, SecretKey: secret})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := mk("instroom", srv.SecretKey).Check(ctx); err != nil {
		t.Errorf("Check over TLS with the custom CA = %v", err)
	}
	if err := mk("bestaat-niet", srv.SecretKey).Check(ctx); !errors.Is(err, blob.ErrNoBucket) {
		t.Errorf("Check(missing bucket) = %v, want ErrNoBucket", err)
	}
	err := mk("instroom", "fout").Check(ctx)
	if err == nil || strings.Contains(err.Error(), "fout") {
		t.Errorf("Check(bad secret) = %v, want an error that does not show the secret", err)
	}
	// Without the CA the certificate is not trusted.
	s, _ := blob.NewS3(blob.S3Options{Endpoint: srv.Endpoint, Bucket: "instroom", Region: "us-east-1", PathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err := s.Check(ctx); err == nil {
		t.Error("Check without the custom CA = nil, want a certificate error")
	}
}

func TestS3CredentialsFromEnvironment(t *testing.T) {
	srv := ingesttest.StartS3(t, nil)
	srv.CreateBucket(t, "instroom")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	s, err := blob.NewS3(blob.S3Options{Endpoint: srv.Endpoint, Bucket: "instroom", Region: "us-east-1", PathStyle: true, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Errorf("Check with credentials from the environment = %v", err)
	}
}
