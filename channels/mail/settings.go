package mail

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// ChannelSettings are the keys of the channels.email block.
type ChannelSettings struct {
	// ParseTimeout bounds the time spent parsing one mail (default 60s); a mail that takes
	// longer is registered with what was read so far and a note.
	ParseTimeout time.Duration `yaml:"parse_timeout"`
	// MaxParts is the most MIME parts read from one mail (default 500).
	MaxParts int `yaml:"max_parts"`
}

// SourceSettings are the mail-specific keys of a source.
type SourceSettings struct {
	// IMAP configures an imap source (one account, several folders).
	IMAP *IMAPSettings `yaml:"imap"`
	// ProcessedFolder and FailedFolder are the Maildir++ folders of a maildir source
	// (defaults Verwerkt and Mislukt).
	ProcessedFolder string `yaml:"processed_folder"`
	FailedFolder    string `yaml:"failed_folder"`
}

// IMAPSettings configure an IMAP account.
type IMAPSettings struct {
	Address string `yaml:"address"` // host:port
	// Security: tls (implicit TLS, default), starttls, or plain (only for a loopback
	// address, or with allow_plain).
	Security   string `yaml:"security"`
	AllowPlain bool   `yaml:"allow_plain"`
	CAFile     string `yaml:"ca_file" path:"true"`
	ServerName string `yaml:"server_name"`
	// Auth: plain (default), login or xoauth2.
	Auth         string          `yaml:"auth"`
	Username     string          `yaml:"username"`
	Password     string          `yaml:"password" secret:"true"`
	PasswordFile string          `yaml:"password_file"`
	OAuth2       *OAuth2Settings `yaml:"oauth2"`
	// Folders watched (default [INBOX]); each gets its own connection.
	Folders         []string `yaml:"folders"`
	ProcessedFolder string   `yaml:"processed_folder"`
	FailedFolder    string   `yaml:"failed_folder"`
	// Ack: move (default) or flag.
	Ack string `yaml:"ack"`
	// Backlog: all (default), unseen, or since (with since: YYYY-MM-DD).
	Backlog     string        `yaml:"backlog"`
	Since       string        `yaml:"since"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// CheckInterval also checks the folder this often while waiting in IDLE, for servers
	// that delay IDLE notifications (Dovecot: about 0.5 s). Off by default; use it only
	// for a server of your own, never for a hosted one.
	CheckInterval time.Duration `yaml:"check_interval"`
	AuthRetry     time.Duration `yaml:"auth_retry"`
}

// OAuth2Settings configure the OAuth2 client-credentials flow for XOAUTH2.
type OAuth2Settings struct {
	// Tenant is the Microsoft Entra tenant (id or domain); it gives the default token URL.
	Tenant string `yaml:"tenant"`
	// TokenURL overrides the token endpoint (other providers).
	TokenURL         string   `yaml:"token_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret" secret:"true"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
	// RefreshBefore renews a token this long before it expires (default 5m).
	RefreshBefore time.Duration `yaml:"refresh_before"`
}

func (c *ChannelSettings) defaults() {
	if c.ParseTimeout <= 0 {
		c.ParseTimeout = 60 * time.Second
	}
	if c.MaxParts <= 0 {
		c.MaxParts = 500
	}
}

func (im *IMAPSettings) defaults() {
	if im.Security == "" {
		im.Security = SecurityTLS
	}
	if im.Auth == "" {
		im.Auth = AuthPlain
	}
	if len(im.Folders) == 0 {
		im.Folders = []string{"INBOX"}
	}
	if im.Ack == "" {
		im.Ack = AckMove
	}
	if im.Backlog == "" {
		im.Backlog = BacklogAll
	}
	if im.ProcessedFolder == "" {
		im.ProcessedFolder = "Verwerkt"
	}
	if im.FailedFolder == "" {
		im.FailedFolder = "Mislukt"
	}
	if im.IdleTimeout <= 0 {
		im.IdleTimeout = 5 * time.Minute
	}
	if im.AuthRetry <= 0 {
		im.AuthRetry = 5 * time.Minute
	}
	if o := im.OAuth2; o != nil {
		if o.TokenURL == "" && o.Tenant != "" {
			o.TokenURL = "https://login.microsoftonline.com/" + o.Tenant + "/oauth2/v2.0/token"
		}
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"https://outlook.office365.com/.default"}
		}
		if o.RefreshBefore == 0 {
			o.RefreshBefore = 5 * time.Minute
		}
	}
}

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

// validate checks an IMAP account; at is its YAML path.
func (im *IMAPSettings) validate(at string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(at+format, args...)) }
	if _, _, err := net.SplitHostPort(im.Address); err != nil {
		bad(".address: %q must be host:port", im.Address)
	}
	switch im.Security {
	case SecurityTLS, SecurityStartTLS:
	case SecurityPlain:
		if !im.AllowPlain && !isLoopback(im.Address) {
			bad(".security: plain sends the password unencrypted; use it only on loopback or set allow_plain: true")
		}
	default:
		bad(".security: %q is not one of tls, starttls, plain", im.Security)
	}
	if im.Username == "" {
		bad(".username: required")
	}
	switch im.Auth {
	case AuthPlain, AuthLogin:
		if im.Password == "" {
			bad(".password: required for auth %s (or password_file)", im.Auth)
		}
	case AuthXOAUTH2:
		errs = append(errs, im.OAuth2.validate(at+".oauth2"))
	default:
		bad(".auth: %q is not one of plain, login, xoauth2", im.Auth)
	}
	seen := map[string]bool{}
	for _, f := range im.Folders {
		if f == "" || seen[f] {
			bad(".folders: %q is empty or listed twice", f)
		}
		seen[f] = true
		if f == im.ProcessedFolder || f == im.FailedFolder {
			bad(".folders: %q is also the processed or failed folder", f)
		}
	}
	if im.Ack != AckMove && im.Ack != AckFlag {
		bad(".ack: %q is not one of move, flag", im.Ack)
	}
	switch im.Backlog {
	case BacklogAll, BacklogUnseen:
	case BacklogSince:
		if _, err := time.Parse("2006-01-02", im.Since); err != nil {
			bad(".since: %q must be a date YYYY-MM-DD for backlog since", im.Since)
		}
	default:
		bad(".backlog: %q is not one of all, unseen, since", im.Backlog)
	}
	return errors.Join(errs...)
}

func (o *OAuth2Settings) validate(at string) error {
	if o == nil {
		return fmt.Errorf("%s: required for auth xoauth2", at)
	}
	var errs []error
	if o.TokenURL == "" {
		errs = append(errs, fmt.Errorf("%s: tenant or token_url is required", at))
	} else if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Host))) {
		errs = append(errs, fmt.Errorf("%s.token_url: must be an https URL", at))
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("%s: client_id and client_secret (or client_secret_file) are required", at))
	}
	return errors.Join(errs...)
}
