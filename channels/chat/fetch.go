package chat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Why an attachment URL was not fetched, for good: the note the colleague reads.
const (
	skipNotAllowed = "het adres staat niet op de lijst van de leverancier"
	skipGone       = "het bestand is niet (meer) beschikbaar"
	skipTooLarge   = "het bestand is te groot"
)

// errBlocked is a dial to an address the fetcher refuses (loopback, private, link-local,
// …): a URL must never be a door into the internal network.
var errBlocked = errors.New("address not allowed")

// errRedirect is a redirect to a URL the fetcher refuses.
var errRedirect = errors.New("redirect not allowed")

const maxRedirects = 5

// fetcher downloads attachments given by URL: over HTTPS only, from a host in the
// vendor's url_hosts, without credentials or cookies, following redirects only to such
// hosts, at most maxBytes, never to a loopback, private, link-local or otherwise
// internal address (unless allowPrivate, for tests).
type fetcher struct {
	hosts    map[string][]string // vendor key → allowed host names
	maxBytes int64
	client   *http.Client
}

func newFetcher(hosts map[string][]string, maxBytes int64, timeout time.Duration, allowPrivate bool, tlsConf *tls.Config) *fetcher {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowPrivate {
		d.Control = refuseInternal
	}
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr := &http.Transport{
		Proxy: nil, DialContext: d.DialContext, TLSClientConfig: tlsConf, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 2,
	}
	f := &fetcher{hosts: hosts, maxBytes: maxBytes}
	f.client = &http.Client{Transport: tr, Timeout: timeout}
	return f
}

// refuseInternal refuses to connect to any address that is not a public unicast one.
func refuseInternal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return errBlocked
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return errBlocked
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || cgnat.Contains(ip) {
		return errBlocked
	}
	return nil
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// allowed reports whether u may be fetched for vendor: https, no credentials, a listed
// host (case-insensitive, any port).
func (f *fetcher) allowed(vendor string, u *url.URL) bool {
	if u.Scheme != "https" || u.User != nil || u.Host == "" {
		return false
	}
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	for _, a := range f.hosts[vendor] {
		if strings.EqualFold(strings.TrimSuffix(a, "."), h) {
			return true
		}
	}
	return false
}

// fetch downloads raw for vendor. skip says why it was not fetched for good (the
// attachment is registered without it); err is a temporary failure. Neither names the
// URL.
func (f *fetcher) fetch(ctx context.Context, vendor, raw string) (b []byte, skip string, err error) {
	u, err := url.Parse(raw)
	if err != nil || !f.allowed(vendor, u) {
		return nil, skipNotAllowed, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, skipNotAllowed, nil
	}
	client := *f.client
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects || !f.allowed(vendor, r.URL) {
			return errRedirect
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, errRedirect) || errors.Is(err, errBlocked) {
			return nil, skipNotAllowed, nil
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the URL
		}
		return nil, "", fmt.Errorf("fetching attachment: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, skipGone, nil
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("fetching attachment: status %d", resp.StatusCode)
	case f.maxBytes > 0 && resp.ContentLength > f.maxBytes:
		return nil, skipTooLarge, nil
	}
	var r io.Reader = resp.Body
	if f.maxBytes > 0 {
		r = io.LimitReader(resp.Body, f.maxBytes+1)
	}
	b, err = io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("fetching attachment: reading the body: %w", err)
	}
	if f.maxBytes > 0 && int64(len(b)) > f.maxBytes {
		return nil, skipTooLarge, nil
	}
	return b, "", nil
}
