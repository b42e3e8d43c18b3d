package config

import (
	"net"
	"strings"
)

type badFunc func(format string, args ...any)

// IsLoopback reports whether a host:port (or host) names a loopback address.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validateS3(at string, s *S3, bad badFunc) {
	if s.Endpoint == "" || strings.Contains(s.Endpoint, "://") {
		bad("%s.endpoint: %q must be host[:port] without scheme", at, s.Endpoint)
	}
	if s.Bucket == "" {
		bad("%s.bucket: required", at)
	}
	if s.Insecure && !s.AllowInsecure && !IsLoopback(s.Endpoint) {
		bad("%s.insecure: plain HTTP only for a loopback endpoint, or set allow_insecure: true", at)
	}
	if (s.AccessKey == "") != (s.SecretKey == "") {
		bad("%s: give both access_key and secret_key, or neither (AWS environment or IAM role)", at)
	}
	switch s.SSE {
	case "", "AES256":
	case "aws:kms":
		if s.KMSKeyID == "" {
			bad("%s.kms_key_id: required for sse aws:kms", at)
		}
	default:
		bad("%s.sse: %q is not one of AES256, aws:kms", at, s.SSE)
	}
	if s.PartSize != 0 && s.PartSize < 5<<20 {
		bad("%s.part_size: at least 5 MiB", at)
	}
}

func validateKafka(k *Kafka, bad badFunc) {
	if len(k.Brokers) == 0 {
		bad("storage.events.kafka.brokers: at least one broker is needed")
	}
	for _, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("storage.events.kafka.brokers: %q must be host:port", b)
		}
	}
	switch strings.ToUpper(k.SASL) {
	case "":
	case "PLAIN", "SCRAM-SHA-512", "SCRAM-SHA-256":
		if k.Username == "" || k.Password == "" {
			bad("storage.events.kafka: sasl %s needs username and password (or password_file)", k.SASL)
		}
	default:
		bad("storage.events.kafka.sasl: %q is not one of PLAIN, SCRAM-SHA-512, SCRAM-SHA-256", k.SASL)
	}
	switch strings.ToLower(k.Compression) {
	case "", "none", "gzip", "snappy", "lz4", "zstd":
	default:
		bad("storage.events.kafka.compression: %q is not one of none, gzip, snappy, lz4, zstd", k.Compression)
	}
}
