package intakeapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks 1.0 (https://www.standardwebhooks.com): the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}", HMAC-SHA256 under the base64-decoded text
// after "whsec_", and webhook-signature holds space-separated "v1,<base64>" entries.

// SignatureTolerance is how far webhook-timestamp may be from the server clock.
const SignatureTolerance = 5 * time.Minute

var webhookIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

var errBadSignature = errors.New("webhook signature missing, malformed or outside the tolerance")

// decodeSecret returns the key of a whsec_ secret.
func decodeSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, errors.New("webhook secret does not start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook secret is not whsec_ followed by base64")
	}
	return key, nil
}

// signedRequest is the signature headers of one request, checked for form and time.
type signedRequest struct {
	id   string
	ts   string
	sigs [][]byte // the decoded v1 signatures
}

// parseSignature reads the three headers and checks their form and the timestamp.
func parseSignature(h http.Header, now time.Time) (*signedRequest, error) {
	id, ts, sig := h.Values("webhook-id"), h.Values("webhook-timestamp"), h.Values("webhook-signature")
	if len(id) != 1 || len(ts) != 1 || len(sig) != 1 || !webhookIDRE.MatchString(id[0]) {
		return nil, errBadSignature
	}
	sec, err := strconv.ParseInt(ts[0], 10, 64)
	if err != nil || sec < 0 || ts[0] != strconv.FormatInt(sec, 10) {
		return nil, errBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return nil, errBadSignature
	}
	sr := &signedRequest{id: id[0], ts: ts[0]}
	for _, e := range strings.Fields(sig[0]) {
		ver, b64, ok := strings.Cut(e, ",")
		if !ok || ver != "v1" {
			continue // other versions (v1a, ...) are ignored
		}
		if b, err := base64.StdEncoding.DecodeString(b64); err == nil && len(b) == sha256.Size {
			sr.sigs = append(sr.sigs, b)
		}
	}
	if len(sr.sigs) == 0 {
		return nil, errBadSignature
	}
	return sr, nil
}

// macs starts one HMAC per key over the signed prefix; the body is written to all of them.
func (sr *signedRequest) macs(keys [][]byte) []hash.Hash {
	out := make([]hash.Hash, len(keys))
	for i, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(sr.id + "." + sr.ts + "."))
		out[i] = m
	}
	return out
}

// verify reports whether any v1 signature equals any of the finished HMACs. Every pair is
// compared in constant time, without stopping at a match.
func (sr *signedRequest) verify(macs []hash.Hash) bool {
	ok := 0
	for _, m := range macs {
		sum := m.Sum(nil)
		for _, s := range sr.sigs {
			ok |= subtleEqual(sum, s)
		}
	}
	return ok == 1
}

func subtleEqual(a, b []byte) int {
	if hmac.Equal(a, b) {
		return 1
	}
	return 0
}

// Sign returns the webhook-signature value ("v1,<base64>") of body under secret, as a
// vendor computes it. It is used by tests and examples.
func Sign(secret, id string, ts int64, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

func writeBadSignature(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="instroom"`)
	WriteProblem(w, CodeBadSignature, "De webhook-handtekening ontbreekt, klopt niet of valt buiten de tijdmarge.", nil)
}
