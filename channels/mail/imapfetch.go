package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/instroom/instroom/ingest"
)

// search fills the queue with the uids to take, with their sizes. The caller holds s.mu.
func (s *IMAPSource) search(ctx context.Context) error {
	crit := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	switch s.opts.Backlog {
	case BacklogUnseen:
		crit.NotFlag = append(crit.NotFlag, imap.FlagSeen)
	case BacklogSince:
		crit.Since = s.opts.Since
	}
	if s.opts.AckMode == AckFlag {
		crit.NotFlag = append(crit.NotFlag, ProcessedKeyword)
	}
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	data, err := s.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return fmt.Errorf("imap: searching: %w", err)
	}
	var uids []imap.UID
	for _, u := range data.AllUIDs() {
		if !s.inflight[u] {
			uids = append(uids, u)
		}
	}
	slices.Sort(uids)
	for len(uids) > 0 {
		n := min(len(uids), metaBatch)
		batch := uids[:n]
		uids = uids[n:]
		cmd := s.c.Fetch(imap.UIDSetNum(batch...), &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			buf, err := msg.Collect()
			if err != nil {
				cmd.Close()
				return fmt.Errorf("imap: fetching sizes: %w", err)
			}
			s.queue = append(s.queue, imapEntry{uid: buf.UID, size: buf.RFC822Size, date: buf.InternalDate})
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("imap: fetching sizes: %w", err)
		}
	}
	slices.SortFunc(s.queue, func(a, b imapEntry) int { return int(a.uid) - int(b.uid) })
	return nil
}

var errVanished = errors.New("imap: message vanished")

// fetch streams one body into a spool. An oversized mail is not fetched. The caller holds
// s.mu.
func (s *IMAPSource) fetch(ctx context.Context, e imapEntry) (*ingest.Item, *spool, error) {
	ref := fmt.Sprintf("imap:%s/%s/%d/%d", s.opts.Account, s.opts.Folder, s.uidValidity, e.uid)
	item := &ingest.Item{Ref: ref, LogRef: ref, Size: e.size, ReceivedAt: e.date.UTC()}
	if s.opts.MaxBytes > 0 && e.size > s.opts.MaxBytes {
		item.Open = func(context.Context) (io.ReadCloser, error) {
			return nil, ingest.Permanentf(ingest.ReasonTooLarge, "mail of %d bytes was not fetched", e.size)
		}
		return item, nil, nil
	}
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	defer stop()
	section := &imap.FetchItemBodySection{Peek: true}
	cmd := s.c.Fetch(imap.UIDSetNum(e.uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	defer cmd.Close()
	msg := cmd.Next()
	if msg == nil {
		if err := cmd.Close(); err != nil {
			return nil, nil, fmt.Errorf("imap: fetching body: %w", err)
		}
		return nil, nil, errVanished
	}
	var sp *spool
	for {
		it := msg.Next()
		if it == nil {
			break
		}
		body, ok := it.(imapclient.FetchItemDataBodySection)
		if !ok || body.Literal == nil {
			continue
		}
		var err error
		if sp, err = newSpool(body.Literal, e.size, s.opts.SpoolDir); err != nil {
			return nil, nil, fmt.Errorf("imap: reading body: %w", err)
		}
	}
	if err := cmd.Close(); err != nil {
		sp.remove()
		return nil, nil, fmt.Errorf("imap: fetching body: %w", err)
	}
	if sp == nil {
		return nil, nil, errVanished
	}
	item.Size = sp.size
	item.Open = sp.open
	return item, sp, nil
}
