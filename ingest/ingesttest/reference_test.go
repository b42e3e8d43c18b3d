package ingesttest

import "testing"

// TestReferenceRead: the yardstick reads the benchmark mail every part through, and a
// mail whose multipart structure go-message refuses is an error, not a fast zero.
func TestReferenceRead(t *testing.T) {
	if err := GoMessageRead(BenchMail(3)); err != nil {
		t.Fatalf("GoMessageRead(BenchMail) = %v", err)
	}
	d, err := ReferenceRead(BenchMail(3), 5)
	if err != nil || d <= 0 {
		t.Fatalf("ReferenceRead = %v, %v", d, err)
	}
	if err := GoMessageRead([]byte("Content-Type: multipart/mixed\r\n\r\nno boundary")); err == nil {
		t.Error("GoMessageRead of a multipart without a boundary = nil")
	}
}
