package intakeapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// tokenTable holds every configured token hash with the index of its vendor.
type tokenTable struct {
	hashes [][sha256.Size]byte
	owner  []int
}

func (t *tokenTable) add(vendor int, hexHash string) error {
	b, err := hex.DecodeString(hexHash)
	if err != nil || len(b) != sha256.Size || hexHash != strings.ToLower(hexHash) {
		return fmt.Errorf("token hash is not 64 lowercase hex characters")
	}
	t.hashes = append(t.hashes, [sha256.Size]byte(b))
	t.owner = append(t.owner, vendor)
	return nil
}

// lookup hashes token and compares the hash with every configured hash in constant time,
// without stopping at a match. It returns the index of the matching vendor.
func (t *tokenTable) lookup(token string) (int, bool) {
	h := sha256.Sum256([]byte(token))
	found, idx := 0, 0
	for i := range t.hashes {
		eq := subtle.ConstantTimeCompare(h[:], t.hashes[i][:])
		idx = subtle.ConstantTimeSelect(eq, t.owner[i], idx)
		found |= eq
	}
	return idx, found == 1
}

// bearerToken returns the token of an Authorization: Bearer header. sent reports whether
// a bearer token was presented at all (for the error="invalid_token" of RFC 6750).
func bearerToken(r *http.Request) (token string, sent bool) {
	v := r.Header.Values("Authorization")
	if len(v) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// writeUnauthenticated answers 401 with the challenge of RFC 6750.
func writeUnauthenticated(w http.ResponseWriter, tokenSent bool) {
	ch := `Bearer realm="instroom"`
	if tokenSent {
		ch += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", ch)
	WriteProblem(w, CodeUnauthenticated, "Een geldig bearer-token is nodig.", nil)
}
