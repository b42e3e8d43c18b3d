package blob

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// NewMinioClient returns a client for the S3 connection in opts: endpoint, region, TLS
// (RootCAs, Insecure), path style and credentials. Bucket, Prefix, SSE, PartSize and
// SpoolDir are not used here. It does no I/O. The S3 drop zone (storage/dropzone) uses it
// too, so both reach S3 the same way.
func NewMinioClient(opts S3Options) (*minio.Client, error) {
	if opts.Endpoint == "" {
		return nil, errors.New("blob: s3 endpoint is required")
	}
	var creds *credentials.Credentials
	if opts.AccessKey != "" || opts.SecretKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.IAM{}})
	}
	tr, err := minio.DefaultTransport(!opts.Insecure)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 transport: %w", err)
	}
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = time.Minute
	if opts.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}
	}
	lookup := minio.BucketLookupAuto
	if opts.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(opts.Endpoint, &minio.Options{
		Creds: creds, Secure: !opts.Insecure, Region: opts.Region, Transport: tr, BucketLookup: lookup,
		MaxRetries: 1, // the pipeline retries with its own backoff
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 client: %w", err)
	}
	return c, nil
}

// ServerSideEncryption returns the encryption opts.SSE names for writes: nil for "", SSE-S3
// for "AES256", SSE-KMS with opts.KMSKeyID for "aws:kms".
func ServerSideEncryption(opts S3Options) (encrypt.ServerSide, error) {
	switch opts.SSE {
	case "":
		return nil, nil
	case "AES256":
		return encrypt.NewSSE(), nil
	case "aws:kms":
		sse, err := encrypt.NewSSEKMS(opts.KMSKeyID, nil)
		if err != nil {
			return nil, fmt.Errorf("blob: s3 sse-kms: %w", err)
		}
		return sse, nil
	}
	return nil, fmt.Errorf("blob: s3 sse %q is not one of AES256, aws:kms", opts.SSE)
}
