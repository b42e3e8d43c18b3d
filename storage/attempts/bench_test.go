package attempts

import (
	"strconv"
	"testing"
)

// BenchmarkItem is the attempt log's work for one item that succeeds at its first
// attempt: Count, Begin, End and Clear.
func BenchmarkItem(b *testing.B) {
	d, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		key := "mail.INBOX\x00acct/INBOX/1/" + strconv.Itoa(i)
		if _, err := d.Count(key); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Begin(key); err != nil {
			b.Fatal(err)
		}
		if err := d.End(key, false); err != nil {
			b.Fatal(err)
		}
		if err := d.Clear(key); err != nil {
			b.Fatal(err)
		}
	}
}
