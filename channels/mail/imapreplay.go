package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/instroom/instroom/ingest"
)

// Replay of failed mail (ingest.Replayer). Failed mail sits in the account's failed
// folder, which all watched folders of the account share, flagged with two keywords when
// the server keeps keywords: $Instroom-<reason> and $InstroomFrom-<folder hash>, the
// folder it failed in. The source of a watched folder lists the failed mail of its folder;
// mail whose folder is not recorded (a server without keywords, or a folder no longer
// watched) is listed as Shared by every folder's source. Replay takes the keywords off
// and moves the mail back with UID MOVE; INTERNALDATE and the bytes stay as they were,
// so the mail gets the ids it would have had.
//
// Replay uses its own connection, with the failed folder selected: a source opened for
// instroom replay is never read.

const (
	reasonKeyword = "$Instroom-"
	fromKeyword   = "$InstroomFrom-"
)

// folderKeyword is the keyword recording the watched folder a mail failed in: a hash,
// since folder names may hold characters a keyword may not.
func folderKeyword(folder string) imap.Flag {
	sum := sha256.Sum256([]byte(folder))
	return imap.Flag(fromKeyword + hex.EncodeToString(sum[:6]))
}

// errNoFailedFolder: the account has no failed folder (yet), so nothing failed.
var errNoFailedFolder = fmt.Errorf("imap: the failed folder does not exist: %w", fs.ErrNotExist)

// replayConn is the connection replay uses.
type replayConn struct {
	mu          sync.Mutex
	c           *imapclient.Client
	uidValidity uint32 // of the failed folder
}

var _ ingest.Replayer = (*IMAPSource)(nil)

// replayConnect makes sure the replay connection is up with the failed folder selected.
// The caller holds s.replay.mu.
func (s *IMAPSource) replayConnect(ctx context.Context) error {
	r := &s.replay
	if r.c != nil {
		select {
		case <-r.c.Closed():
			r.c = nil
		default:
			return nil
		}
	}
	s.mu.Lock()
	c, err := s.dial(ctx)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sel, err := c.Select(s.opts.FailedFolder, nil).Wait()
	if err != nil {
		// Not every server says NONEXISTENT: ask whether the folder is there.
		boxes, lerr := c.List("", s.opts.FailedFolder, nil).Collect()
		c.Close()
		if isCode(err, imap.ResponseCodeNonExistent) || (lerr == nil && len(boxes) == 0) {
			return errNoFailedFolder
		}
		return fmt.Errorf("imap: selecting failed folder: %w", err)
	}
	r.c, r.uidValidity = c, sel.UIDValidity
	return nil
}

func (s *IMAPSource) closeReplay() {
	s.replay.mu.Lock()
	defer s.replay.mu.Unlock()
	if s.replay.c != nil {
		_ = s.replay.c.Logout().Wait()
		s.replay.c.Close()
		s.replay.c = nil
	}
}

// failedRef is the reference of a mail in the failed folder.
func (s *IMAPSource) failedRef(validity uint32, uid imap.UID) string {
	return fmt.Sprintf("imap:%s/%s/%d/%d", s.opts.Account, s.opts.FailedFolder, validity, uid)
}

// parseFailedRef returns the UIDVALIDITY and UID of a failed-folder reference.
func (s *IMAPSource) parseFailedRef(ref string) (uint32, imap.UID, bool) {
	rest, ok := strings.CutPrefix(ref, fmt.Sprintf("imap:%s/%s/", s.opts.Account, s.opts.FailedFolder))
	if !ok {
		return 0, 0, false
	}
	v, u, ok := strings.Cut(rest, "/")
	validity, err1 := strconv.ParseUint(v, 10, 32)
	uid, err2 := strconv.ParseUint(u, 10, 32)
	if !ok || err1 != nil || err2 != nil || uid == 0 {
		return 0, 0, false
	}
	return uint32(validity), imap.UID(uid), true
}

// owner says whose failed mail carries flags: this folder's (mine), nobody's known
// (shared), or another watched folder's (neither).
func (s *IMAPSource) owner(flags []imap.Flag) (mine, shared bool) {
	watched := s.opts.Watched
	if len(watched) == 0 {
		watched = []string{s.opts.Folder}
	}
	for _, f := range flags {
		if !strings.HasPrefix(string(f), fromKeyword) {
			continue
		}
		if strings.EqualFold(string(f), string(folderKeyword(s.opts.Folder))) {
			return true, false
		}
		for _, w := range watched {
			if strings.EqualFold(string(f), string(folderKeyword(w))) {
				return false, false
			}
		}
	}
	return false, true
}

func failureReason(flags []imap.Flag) string {
	for _, f := range flags {
		if r, ok := strings.CutPrefix(string(f), reasonKeyword); ok && r != "" {
			return strings.ToLower(r)
		}
	}
	return ""
}

// ListFailed implements ingest.Replayer: the failed folder's mail of this watched folder
// and the Shared mail, oldest UID first, each with the reason of its keyword, its
// INTERNALDATE and RFC822.SIZE. The failure time is not recorded on the server.
func (s *IMAPSource) ListFailed(ctx context.Context, fn func(ingest.FailedItem) error) error {
	msgs, validity, err := s.failedMail(ctx)
	if errors.Is(err, errNoFailedFolder) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, m := range msgs {
		mine, shared := s.owner(m.Flags)
		if !mine && !shared {
			continue
		}
		uid, size := m.UID, m.RFC822Size
		it := ingest.FailedItem{
			Ref: s.failedRef(validity, uid), Reason: failureReason(m.Flags), ReceivedAt: m.InternalDate.UTC(), Size: size, Shared: shared,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return s.openFailed(ctx, validity, uid, size) },
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// failedMail fetches the flags, date and size of every mail in the failed folder.
func (s *IMAPSource) failedMail(ctx context.Context) ([]*imapclient.FetchMessageBuffer, uint32, error) {
	s.replay.mu.Lock()
	defer s.replay.mu.Unlock()
	if err := s.replayConnect(ctx); err != nil {
		return nil, 0, err
	}
	c := s.replay.c
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	data, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return nil, 0, fmt.Errorf("imap: searching failed folder: %w", err)
	}
	uids := data.AllUIDs()
	slices.Sort(uids)
	var out []*imapclient.FetchMessageBuffer
	for len(uids) > 0 {
		n := min(len(uids), metaBatch)
		msgs, err := c.Fetch(imap.UIDSetNum(uids[:n]...), &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true}).Collect()
		if err != nil {
			return nil, 0, fmt.Errorf("imap: fetching failed mail: %w", err)
		}
		out = append(out, msgs...)
		uids = uids[n:]
	}
	slices.SortFunc(out, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	return out, s.replay.uidValidity, nil
}

// openFailed streams a failed mail's raw bytes through a spool (the connection is free
// again when it returns).
func (s *IMAPSource) openFailed(ctx context.Context, validity uint32, uid imap.UID, size int64) (io.ReadCloser, error) {
	s.replay.mu.Lock()
	defer s.replay.mu.Unlock()
	if err := s.replayConnect(ctx); err != nil {
		return nil, err
	}
	if s.replay.uidValidity != validity {
		return nil, fmt.Errorf("imap: the failed folder's UIDVALIDITY changed: %w", fs.ErrNotExist)
	}
	c := s.replay.c
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	defer cmd.Close()
	var sp *spool
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for it := msg.Next(); it != nil; it = msg.Next() {
			body, ok := it.(imapclient.FetchItemDataBodySection)
			if !ok || body.Literal == nil || sp != nil {
				continue
			}
			var err error
			if sp, err = newSpool(body.Literal, size, s.opts.SpoolDir); err != nil {
				return nil, fmt.Errorf("imap: reading failed mail: %w", err)
			}
		}
	}
	if err := cmd.Close(); err != nil {
		sp.remove()
		return nil, fmt.Errorf("imap: fetching failed mail: %w", err)
	}
	if sp == nil {
		return nil, fmt.Errorf("imap: not in the failed folder: %w", fs.ErrNotExist)
	}
	rc, err := sp.open(ctx)
	if err != nil {
		sp.remove()
		return nil, err
	}
	return &spoolReader{ReadCloser: rc, sp: sp}, nil
}

// spoolReader removes its spool when closed.
type spoolReader struct {
	io.ReadCloser
	sp *spool
}

func (r *spoolReader) Close() error {
	err := r.ReadCloser.Close()
	r.sp.remove()
	return err
}

// Replay implements ingest.Replayer: the failed mail ref loses its replay keywords (and
// \Seen when the backlog is unseen, so the source takes it) and moves back to the watched
// folder. It returns its reference there when the server reports the new UID (UIDPLUS).
func (s *IMAPSource) Replay(ctx context.Context, ref string) (string, error) {
	validity, uid, ok := s.parseFailedRef(ref)
	if !ok {
		return "", fmt.Errorf("imap: not a reference in failed folder %s of account %s: %w", s.opts.FailedFolder, s.opts.Account, fs.ErrNotExist)
	}
	s.replay.mu.Lock()
	defer s.replay.mu.Unlock()
	if err := s.replayConnect(ctx); err != nil {
		return "", err
	}
	if s.replay.uidValidity != validity {
		return "", fmt.Errorf("imap: the failed folder's UIDVALIDITY changed: %w", fs.ErrNotExist)
	}
	c := s.replay.c
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	set := imap.UIDSetNum(uid)
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		return "", fmt.Errorf("imap: fetching flags: %w", err)
	}
	if len(msgs) == 0 {
		return "", fmt.Errorf("imap: not in the failed folder: %w", fs.ErrNotExist)
	}
	var off []imap.Flag
	for _, f := range msgs[0].Flags {
		if strings.HasPrefix(string(f), reasonKeyword) || strings.HasPrefix(string(f), fromKeyword) ||
			(f == imap.FlagSeen && s.opts.Backlog == BacklogUnseen) {
			off = append(off, f)
		}
	}
	if len(off) > 0 {
		if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: off}, nil).Close(); err != nil {
			return "", fmt.Errorf("imap: removing replay keywords: %w", err)
		}
	}
	moved, err := c.Move(set, s.opts.Folder).Wait()
	if err != nil {
		return "", fmt.Errorf("imap: moving back to the watched folder: %w", err)
	}
	if dest, ok := moved.DestUIDs.(imap.UIDSet); ok && moved.UIDValidity != 0 {
		if uids, ok := dest.Nums(); ok && len(uids) == 1 {
			return fmt.Sprintf("imap:%s/%s/%d/%d", s.opts.Account, s.opts.Folder, moved.UIDValidity, uids[0]), nil
		}
	}
	return "", nil
}
