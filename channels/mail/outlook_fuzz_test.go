package mail

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// outlookSeeds are the writers' outputs, the inputs every Outlook fuzz run starts from.
func outlookSeeds() (tnef, msg [][]byte) {
	tnef = [][]byte{writeTNEF(fixtureMessage()), writeTNEF(winmailFixture())}
	msg = [][]byte{
		writeMSG(fixtureMessage(), fixtureStrings{}),
		writeMSG(fixtureMessage(), fixtureStrings{enc: charmap.Windows1252, cp: 1252}),
	}
	if b, err := os.ReadFile("testdata/41-outlook.msg"); err == nil {
		msg = append(msg, b)
	}
	return tnef, msg
}

// checkOutlookResult fails when a reader panicked, or returned text that is not UTF-8
// or more content than maxBytes allows.
func checkOutlookResult(t *testing.T, m *outlookMessage, err error, maxBytes int64) {
	t.Helper()
	if errors.Is(err, errOutlookPanic) {
		t.Fatalf("reader panicked: %v", err)
	}
	if err != nil {
		return
	}
	var size int64
	var walk func(m *outlookMessage, depth int)
	walk = func(m *outlookMessage, depth int) {
		if depth > maxOutlookDepth+1 {
			t.Fatalf("attached messages nested %d deep", depth)
		}
		for _, s := range append([]string{m.TransportHeaders, m.Subject, m.FromName, m.FromAddress,
			m.MessageID, m.InReplyTo, m.Text, m.HTML}, m.To...) {
			if !utf8.ValidString(s) {
				t.Fatalf("reader returned invalid UTF-8 %q", s)
			}
		}
		for _, a := range m.Attachments {
			size += int64(len(a.Data))
			if !utf8.ValidString(a.Name) || !utf8.ValidString(a.ContentType) || a.ContentType == "" {
				t.Fatalf("attachment name %q or type %q", a.Name, a.ContentType)
			}
			if a.Embedded != nil {
				walk(a.Embedded, depth+1)
			}
		}
	}
	walk(m, 0)
	if size > maxBytes {
		t.Fatalf("read %d bytes of attachments with a limit of %d", size, maxBytes)
	}
}

func FuzzReadTNEF(f *testing.F) {
	seeds, _ := outlookSeeds()
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := readTNEF(bytes.NewReader(raw), 1<<20)
		checkOutlookResult(t, m, err, 1<<20)
	})
}

func FuzzReadMSG(f *testing.F) {
	_, seeds := outlookSeeds()
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := readMSG(bytes.NewReader(raw), int64(len(raw)), 1<<20)
		checkOutlookResult(t, m, err, 1<<20)
	})
}

// TestOutlookByteFlips runs both readers over the writers' output with a few random
// bytes changed, from a fixed seed.
func TestOutlookByteFlips(t *testing.T) {
	tnef, msg := outlookSeeds()
	rng := rand.New(rand.NewPCG(1, 2))
	flip := func(b []byte) []byte {
		b = bytes.Clone(b)
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		return b
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		b := flip(tnef[i%len(tnef)])
		m, err := readTNEF(bytes.NewReader(b), 1<<20)
		checkOutlookResult(t, m, err, 1<<20)
		b = flip(msg[i%len(msg)])
		m, err = readMSG(bytes.NewReader(b), int64(len(b)), 1<<20)
		checkOutlookResult(t, m, err, 1<<20)
	}
}
