package mail

import (
	"bytes"
	"io"
	netmail "net/mail"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestParseDateFastPath checks that the RFC 5322 layout tried first gives what
// net/mail.ParseDate gives, for every date it accepts.
func TestParseDateFastPath(t *testing.T) {
	dates := []string{
		"Fri, 20 Nov 2026 09:00:01 +0100", "Mon, 2 Jan 2006 15:04:05 -0700", "Sun, 31 Mar 2024 02:30:00 +0000",
		"Tue, 01 Oct 2024 23:59:59 -0000", "Wed, 9 Sep 2026 00:00:00 +1400", "Thu, 29 Feb 2024 12:00:00 +0530",
		"Sat, 20 Nov 2026 09:00:01 +0100", // the wrong weekday: both take the date
		"Fri, 20 Nov 2026 09:00 +0100", "20 Nov 2026 09:00:01 +0100", "Fri, 20 Nov 26 09:00:01 +0100",
		"Fri, 20 Nov 2026 09:00:01 GMT", "Fri, 20 Nov 2026 09:00:01 +0100 (CET)",
	}
	fast := 0
	for _, v := range dates {
		d, err := time.Parse(rfc5322Date, v)
		if err != nil {
			continue
		}
		fast++
		want, err := netmail.ParseDate(v)
		if err != nil {
			t.Errorf("%q: net/mail refuses what the fast path takes: %v", v, err)
			continue
		}
		dn, doff := d.Zone()
		wn, woff := want.Zone()
		if !d.Equal(want) || dn != wn || doff != woff || d.Location().String() != want.Location().String() {
			t.Errorf("%q: fast path %v, net/mail %v", v, d, want)
		}
		if got, ok := parseDate(v); !ok || !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", v, got, ok, want)
		}
	}
	if fast < 6 {
		t.Errorf("the fast path took %d dates, want at least 6", fast)
	}
}

// TestReadAllLikeIOReadAll checks the two readers that replace io.ReadAll on the hot
// path: the same bytes and the same error, whatever the size hint.
func TestReadAllLikeIOReadAll(t *testing.T) {
	var sp scratchPool
	for _, n := range []int{0, 1, 511, 512, 4096, 10500, 70000} {
		data := bytes.Repeat([]byte("0123456789abcdefg"), n/17+1)[:n]
		for _, hint := range []int{0, n - 1, n, n + 1, 2 * n} {
			if hint < 0 {
				continue
			}
			got, err := readAllSized(iotest.HalfReader(bytes.NewReader(data)), hint)
			if err != nil || !bytes.Equal(got, data) || got == nil {
				t.Errorf("readAllSized(%d bytes, hint %d) = %d bytes, %v", n, hint, len(got), err)
			}
		}
		for range 3 { // the pooled buffer is reused
			got, err := sp.readAll(iotest.OneByteReader(bytes.NewReader(data)))
			if err != nil || !bytes.Equal(got, data) || got == nil {
				t.Errorf("scratch readAll(%d bytes) = %d bytes, %v", n, len(got), err)
			}
		}
	}
	// An error after some data: both return the data read so far and the error.
	r := func() io.Reader { return iotest.TimeoutReader(strings.NewReader(strings.Repeat("x", 100))) }
	want, wantErr := io.ReadAll(r())
	if got, err := sp.readAll(r()); err != wantErr || !bytes.Equal(got, want) {
		t.Errorf("scratch readAll with an error = %q, %v; want %q, %v", got, err, want, wantErr)
	}
	if got, err := readAllSized(r(), 100); err != wantErr || !bytes.Equal(got, want) {
		t.Errorf("readAllSized with an error = %q, %v; want %q, %v", got, err, want, wantErr)
	}
}
