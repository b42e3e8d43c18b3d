package ingesttest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// DovecotOptions configure a test Dovecot.
type DovecotOptions struct {
	// Users maps user names to passwords (PLAIN/LOGIN).
	Users map[string]string
	// CA enables TLS: implicit TLS on TLSAddr and STARTTLS on Addr.
	CA *TestCA
	// Capabilities, when set, replaces the capabilities Dovecot advertises after login
	// (to test clients against servers without IDLE or MOVE).
	Capabilities string
	// IntrospectionURL enables XOAUTH2/OAUTHBEARER through Dovecot's oauth2 passdb, which
	// POSTs the token to this URL (RFC 7662 token introspection).
	IntrospectionURL string
}

// Dovecot is a Dovecot IMAP server run by the test with its own configuration.
type Dovecot struct {
	*Process
	Addr    string // plain / STARTTLS
	TLSAddr string // implicit TLS (when CA is set)
	Dir     string
	users   map[string]string

	mu      sync.Mutex
	monitor map[string]*imapclient.Client // persistent connections for Count
}

// StartDovecot writes a configuration and starts Dovecot in the foreground.
func StartDovecot(t testing.TB, opts DovecotOptions) *Dovecot {
	t.Helper()
	bin := Need(t, "dovecot")
	dir := t.TempDir()
	// Dovecot's unprivileged processes must reach the files; mail is owned by the mail user.
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if info, err := os.Stat(d); err == nil && info.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, info.Mode().Perm()|0o005)
		}
	}
	mailUser, mailGroup := "nobody", "nogroup"
	if os.Geteuid() != 0 {
		u, _ := user.Current()
		g, _ := user.LookupGroupId(u.Gid)
		mailUser, mailGroup = u.Username, g.Name
	}
	mailDir := filepath.Join(dir, "mail")
	os.MkdirAll(mailDir, 0o755)
	if os.Geteuid() == 0 {
		if u, err := user.Lookup(mailUser); err == nil {
			var uid, gid int
			fmt.Sscan(u.Uid, &uid)
			fmt.Sscan(u.Gid, &gid)
			os.Chown(mailDir, uid, gid)
		}
	}
	var pw bytes.Buffer
	names := make([]string, 0, len(opts.Users))
	for u := range opts.Users {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		fmt.Fprintf(&pw, "%s:{PLAIN}%s\n", u, opts.Users[u])
	}
	os.WriteFile(filepath.Join(dir, "passwd"), pw.Bytes(), 0o644)
	port, tlsPort := FreePort(t), 0
	d := &Dovecot{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, users: opts.Users}
	var conf strings.Builder
	fmt.Fprintf(&conf, `base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:%[1]s/mail/%%u
mail_fsync = never
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
login_trusted_networks =
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[2]s gid=%[3]s home=%[1]s/mail/%%u
}
namespace inbox {
  inbox = yes
  separator = /
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`, dir, mailUser, mailGroup)
	if opts.Capabilities != "" {
		fmt.Fprintf(&conf, "imap_capability = %s\n", opts.Capabilities)
	}
	if opts.CA != nil {
		tlsPort = FreePort(t)
		d.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tlsPort)
		fmt.Fprintf(&conf, "ssl = yes\nssl_cert = <%s\nssl_key = <%s\n", opts.CA.CertFile, opts.CA.KeyFile)
	} else {
		conf.WriteString("ssl = no\n")
	}
	fmt.Fprintf(&conf, "service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = %d\n  }\n  inet_listener imaps {\n    address = 127.0.0.1\n    port = %d\n  }\n}\n", port, tlsPort)
	if opts.IntrospectionURL != "" {
		conf.WriteString("auth_mechanisms = plain login xoauth2 oauthbearer\n")
		fmt.Fprintf(&conf, "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s/oauth2.conf\n}\n", dir)
		oauth := fmt.Sprintf("introspection_mode = post\nintrospection_url = %s\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n", opts.IntrospectionURL)
		os.WriteFile(filepath.Join(dir, "oauth2.conf"), []byte(oauth), 0o644)
	}
	cfg := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Process = StartProcess(t, d.Addr, nil, bin, "-F", "-c", cfg)
	return d
}

// Client logs in as user over the plain port.
func (d *Dovecot) Client(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	var c *imapclient.Client
	var err error
	for i := 0; i < 50; i++ { // the server may just be restarting
		c, err = imapclient.DialInsecure(d.Addr, nil)
		if err == nil {
			if err = c.Login(user, d.users[user]).Wait(); err == nil {
				return c
			}
			c.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("dovecot login as %s: %v\n%s", user, err, d.ServerLog())
	return nil
}

// ServerLog returns Dovecot's log file.
func (d *Dovecot) ServerLog() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(b)
}

// Append stores mails in a folder of a user, creating the folder.
func (d *Dovecot) Append(t testing.TB, user, folder string, mails ...[]byte) {
	t.Helper()
	c := d.Client(t, user)
	defer c.Close()
	if folder != "INBOX" {
		c.Create(folder, nil).Wait()
	}
	for _, m := range mails {
		cmd := c.Append(folder, int64(len(m)), nil)
		if _, err := cmd.Write(m); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
}

// Count returns the number of messages in a folder (0 when it does not exist). It keeps
// one connection per user open, so polling costs the server little.
func (d *Dovecot) Count(t testing.TB, user, folder string) int {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.monitor == nil {
		d.monitor = map[string]*imapclient.Client{}
		t.Cleanup(func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, c := range d.monitor {
				c.Close()
			}
		})
	}
	for attempt := 0; attempt < 2; attempt++ {
		c := d.monitor[user]
		if c == nil {
			c = d.Client(t, user)
			d.monitor[user] = c
		}
		st, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
		if err == nil {
			if st.NumMessages == nil {
				return 0
			}
			return int(*st.NumMessages)
		}
		var ierr *imap.Error
		if errors.As(err, &ierr) {
			return 0 // the folder does not exist (yet)
		}
		c.Close() // the server restarted: dial again
		delete(d.monitor, user)
	}
	return 0
}
