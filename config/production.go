package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

type badFunc func(format string, args ...any)

func isLoopback(hostport string) bool {
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

func validateIMAP(at string, im *IMAP, bad badFunc) {
	if _, _, err := net.SplitHostPort(im.Address); err != nil {
		bad("%s.address: %q must be host:port", at, im.Address)
	}
	switch im.Security {
	case "tls", "starttls":
	case "plain":
		if !im.AllowPlain && !isLoopback(im.Address) {
			bad("%s.security: plain sends the password unencrypted; use it only on loopback or set allow_plain: true", at)
		}
	default:
		bad("%s.security: %q is not one of tls, starttls, plain", at, im.Security)
	}
	if im.Username == "" {
		bad("%s.username: required", at)
	}
	switch im.Auth {
	case "plain", "login":
		if im.Password == "" {
			bad("%s.password: required for auth %s (or password_file)", at, im.Auth)
		}
	case "xoauth2":
		o := im.OAuth2
		if o == nil {
			bad("%s.oauth2: required for auth xoauth2", at)
			break
		}
		if o.TokenURL == "" {
			bad("%s.oauth2: tenant or token_url is required", at)
		} else if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Host))) {
			bad("%s.oauth2.token_url: must be an https URL", at)
		}
		if o.ClientID == "" || o.ClientSecret == "" {
			bad("%s.oauth2: client_id and client_secret (or client_secret_file) are required", at)
		}
	default:
		bad("%s.auth: %q is not one of plain, login, xoauth2", at, im.Auth)
	}
	seen := map[string]bool{}
	for _, f := range im.Folders {
		if f == "" || seen[f] {
			bad("%s.folders: %q is empty or listed twice", at, f)
		}
		seen[f] = true
		if f == im.ProcessedFolder || f == im.FailedFolder {
			bad("%s.folders: %q is also the processed or failed folder", at, f)
		}
	}
	switch im.Ack {
	case "move", "flag":
	default:
		bad("%s.ack: %q is not one of move, flag", at, im.Ack)
	}
	switch im.Backlog {
	case "all", "unseen":
	case "since":
		if _, err := time.Parse("2006-01-02", im.Since); err != nil {
			bad("%s.since: %q must be a date YYYY-MM-DD for backlog since", at, im.Since)
		}
	default:
		bad("%s.backlog: %q is not one of all, unseen, since", at, im.Backlog)
	}
}

func validateS3(s *S3, bad badFunc) {
	if s.Endpoint == "" || strings.Contains(s.Endpoint, "://") {
		bad("storage.blobs.s3.endpoint: %q must be host[:port] without scheme", s.Endpoint)
	}
	if s.Bucket == "" {
		bad("storage.blobs.s3.bucket: required")
	}
	if s.Insecure && !s.AllowInsecure && !isLoopback(s.Endpoint) {
		bad("storage.blobs.s3.insecure: plain HTTP only for a loopback endpoint, or set allow_insecure: true")
	}
	if (s.AccessKey == "") != (s.SecretKey == "") {
		bad("storage.blobs.s3: give both access_key and secret_key, or neither (AWS environment or IAM role)")
	}
	switch s.SSE {
	case "", "AES256":
	case "aws:kms":
		if s.KMSKeyID == "" {
			bad("storage.blobs.s3.kms_key_id: required for sse aws:kms")
		}
	default:
		bad("storage.blobs.s3.sse: %q is not one of AES256, aws:kms", s.SSE)
	}
	if s.PartSize != 0 && s.PartSize < 5<<20 {
		bad("storage.blobs.s3.part_size: at least 5 MiB")
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
