package clamd

import (
	"fmt"
	"strings"
)

// maxSignature bounds a signature name; ClamAV's are well under 100 characters.
const maxSignature = 200

// ParseReply interprets clamd's reply to INSTREAM (without its NUL byte): the signature
// found, "" for clean content, ErrSizeLimit, or an error with clamd's message.
func ParseReply(reply string) (string, error) {
	reply = strings.TrimRight(reply, "\x00\r\n")
	switch {
	case reply == "stream: OK":
		return "", nil
	case strings.HasPrefix(reply, "INSTREAM size limit exceeded"):
		return "", ErrSizeLimit
	case len(reply) >= len("stream:  FOUND") && strings.HasPrefix(reply, "stream: ") && strings.HasSuffix(reply, " FOUND"):
		sig := strings.TrimSpace(reply[len("stream: ") : len(reply)-len(" FOUND")])
		if sig == "" || len(sig) > maxSignature || !printable(sig) {
			return "", fmt.Errorf("clamd: malformed FOUND reply (%d bytes)", len(reply))
		}
		return sig, nil
	case strings.HasSuffix(reply, " ERROR"):
		msg := strings.TrimPrefix(strings.TrimSuffix(reply, " ERROR"), "stream: ")
		if len(msg) > 120 || !printable(msg) {
			return "", fmt.Errorf("clamd: scan failed (%d bytes of error reply)", len(reply))
		}
		return "", fmt.Errorf("clamd: scan failed: %s", msg)
	}
	return "", fmt.Errorf("clamd: unexpected reply (%d bytes)", len(reply))
}

// printable reports whether s is printable ASCII only (clamd's signatures and messages
// are; anything else is not passed on).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
