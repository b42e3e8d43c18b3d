package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
)

var _ ingest.SHA256Putter = (*blob.S3)(nil)

// TestS3PutSHA256 stores content with its known SHA-256 on versitygw over plain HTTP: the
// server checks the body against the signed hash, so the right hash stores the content
// and a wrong one is refused; content over one part, or without a hash, goes the way of
// Put.
func TestS3PutSHA256(t *testing.T) {
	srv := ingesttest.StartS3(t, nil)
	srv.CreateBucket(t, "instroom")
	s, err := blob.NewS3(blob.S3Options{Endpoint: srv.Endpoint, Bucket: "instroom", Region: "us-east-1", PathStyle: true, Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PartSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sumOf := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	small := []byte(strings.Repeat("Geachte heer, mevrouw. ", 900))
	big := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16) // over the part size: multipart
	for _, c := range []struct {
		key  string
		body []byte
		sum  string
	}{{"kc/small.txt", small, sumOf(small)}, {"kc/empty.txt", nil, sumOf(nil)}, {"kc/big.bin", big, sumOf(big)}, {"kc/nosum.txt", small, ""}} {
		if err := s.PutSHA256(ctx, c.key, iotest.HalfReader(bytes.NewReader(c.body)), int64(len(c.body)), "text/plain", c.sum); err != nil {
			t.Fatalf("PutSHA256(%s) = %v", c.key, err)
		}
		if got := get(t, s, c.key); !bytes.Equal(got, c.body) {
			t.Errorf("Get(%s) returned %d bytes, want the %d put", c.key, len(got), len(c.body))
		}
	}
	wrong := sumOf([]byte("iets anders"))
	if err := s.PutSHA256(ctx, "kc/wrong.txt", bytes.NewReader(small), int64(len(small)), "text/plain", wrong); err == nil {
		t.Error("PutSHA256 with a hash that is not the content's succeeded; the server must refuse it")
	}
}
