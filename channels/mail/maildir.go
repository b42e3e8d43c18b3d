package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MaildirOptions configure a Maildir drop zone.
type MaildirOptions struct {
	// ProcessedFolder and FailedFolder are Maildir++ folder names (without the leading
	// dot) that handled mails are moved to (defaults "Verwerkt" and "Mislukt").
	ProcessedFolder string
	FailedFolder    string
	// Now returns the current time (tests); nil: time.Now.
	Now func() time.Time
}

// Maildir is a Maildir delivered into by a local MTA. New mail is read from new/ (tmp/ is
// the MTA's and is never read); handled mail moves into the processed folder's cur/ with
// the Seen flag, failed mail into the failed folder with a reason file in its
// instroom-reasons/ directory. It must have a single reader.
type Maildir struct {
	root string
	opts MaildirOptions
}

// NewMaildir opens the Maildir at dir, creating its folders if needed.
func NewMaildir(dir string, opts *MaildirOptions) (*Maildir, error) {
	m := &Maildir{root: dir}
	if opts != nil {
		m.opts = *opts
	}
	if m.opts.ProcessedFolder == "" {
		m.opts.ProcessedFolder = "Verwerkt"
	}
	if m.opts.FailedFolder == "" {
		m.opts.FailedFolder = "Mislukt"
	}
	if m.opts.Now == nil {
		m.opts.Now = time.Now
	}
	for _, f := range []string{"", m.folder(m.opts.ProcessedFolder), m.folder(m.opts.FailedFolder)} {
		for _, sub := range []string{"tmp", "new", "cur"} {
			if err := os.MkdirAll(filepath.Join(dir, f, sub), 0o750); err != nil {
				return nil, fmt.Errorf("maildir: creating folder: %w", err)
			}
		}
	}
	return m, nil
}

func (m *Maildir) folder(name string) string { return "." + strings.TrimPrefix(name, ".") }

// String names the Maildir for logs.
func (m *Maildir) String() string { return "maildir:" + m.root }

// List calls fn for every mail in new/, oldest first.
func (m *Maildir) List(ctx context.Context, fn func(name string, size int64, modTime time.Time) error) error {
	return listNew(ctx, filepath.Join(m.root, "new"), fn)
}

func (m *Maildir) file(name string) (string, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return "", errors.New("maildir: invalid mail name")
	}
	return filepath.Join(m.root, "new", name), nil
}

// Open opens a mail in new/.
func (m *Maildir) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := m.file(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		// Without the path (a file name is not for logs); errors.Is(err, fs.ErrNotExist) holds.
		return nil, fmt.Errorf("maildir: opening mail: %w", errors.Unwrap(err))
	}
	return f, nil
}

// curName is the name of a mail in cur/ with the given flags.
func curName(name, flags string) string {
	if i := strings.Index(name, ":2,"); i >= 0 {
		name = name[:i]
	}
	return name + ":2," + flags
}

// Done moves a mail to the processed folder, flagged Seen.
func (m *Maildir) Done(ctx context.Context, name string) error {
	p, err := m.file(name)
	if err != nil {
		return err
	}
	dst := filepath.Join(m.root, m.folder(m.opts.ProcessedFolder), "cur", curName(name, "S"))
	if err := durableRename(p, dst); err != nil {
		return fmt.Errorf("maildir: moving to processed folder: %w", err)
	}
	return nil
}

// Fail moves a mail to the failed folder and writes its reason.
func (m *Maildir) Fail(ctx context.Context, name, reason, detail string) error {
	p, err := m.file(name)
	if err != nil {
		return err
	}
	folder := filepath.Join(m.root, m.folder(m.opts.FailedFolder))
	b, _ := json.MarshalIndent(failReason{Reason: reason, Detail: detail, At: m.opts.Now().UTC()}, "", "  ")
	if _, err := durableWrite(filepath.Join(folder, "instroom-reasons", name+".json"), strings.NewReader(string(b)+"\n"), 0o640); err != nil {
		return fmt.Errorf("maildir: writing reason: %w", err)
	}
	if err := durableRename(p, filepath.Join(folder, "cur", curName(name, ""))); err != nil {
		return fmt.Errorf("maildir: moving to failed folder: %w", err)
	}
	return nil
}
