package mail

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"
)

// Authentication mechanisms.
const (
	AuthPlain   = "plain"   // SASL PLAIN (AUTHENTICATE PLAIN)
	AuthLogin   = "login"   // the LOGIN command
	AuthXOAUTH2 = "xoauth2" // SASL XOAUTH2 with an OAuth2 access token (Exchange Online, Gmail, Dovecot oauth2)
)

// IMAPAuth says how to log in.
type IMAPAuth struct {
	Mechanism string
	Username  string
	Password  string
	// TokenSource gives access tokens for XOAUTH2. It should refresh tokens before they
	// expire (oauth2.ReuseTokenSourceWithExpiry).
	TokenSource oauth2.TokenSource
}

// ErrAuth is returned when the server refused the credentials.
var ErrAuth = errors.New("imap: authentication failed")

// xoauth2 is the SASL XOAUTH2 client mechanism
// (https://developers.google.com/gmail/imap/xoauth2-protocol, used by Exchange Online).
type xoauth2 struct {
	user, token string
}

var _ sasl.Client = (*xoauth2)(nil)

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next receives the server's error challenge (a JSON status): the token was refused. The
// connection is closed after a failed login, so the exchange ends here.
func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	var e struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(challenge, &e) == nil && e.Status != "" {
		return nil, fmt.Errorf("%w: the server refused the oauth2 token (status %s)", ErrAuth, e.Status)
	}
	return nil, fmt.Errorf("%w: unexpected xoauth2 challenge", ErrAuth)
}
