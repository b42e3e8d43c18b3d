package mail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
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

// hostileCase is a damaged input and what the reader must say about it.
type hostileCase struct {
	name string
	in   []byte
	max  int64
	want error // nil: any error; errNone: must succeed; errMaybe: either
}

var (
	errNone  = errors.New("no error")
	errMaybe = errors.New("error or not")
)

// checkHostile runs read on each case: it must not panic, must fail (or succeed only
// where allowed), and must not allocate far beyond the limit.
func checkHostile(t *testing.T, read func([]byte, int64) (*outlookMessage, error), cases []hostileCase) {
	t.Helper()
	secret := fixtureMessage()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m, err := read(tc.in, tc.max)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*uint64(tc.max)+1<<20 {
				t.Errorf("read(%s) allocated %d bytes with a limit of %d", tc.name, alloc, tc.max)
			}
			switch {
			case errors.Is(err, errOutlookPanic):
				t.Fatalf("read(%s) panicked: %v", tc.name, err)
			case tc.want == errNone && err != nil:
				t.Fatalf("read(%s) = %v, want success", tc.name, err)
			case err == nil && (tc.want == errNone || tc.want == errMaybe):
				return
			case err == nil:
				t.Fatalf("read(%s) = %+v, want an error", tc.name, m)
			case tc.want != nil && tc.want != errMaybe && !errors.Is(err, tc.want):
				t.Errorf("read(%s) = %v, want %v", tc.name, err, tc.want)
			}
			for _, s := range []string{secret.Subject, secret.FromName, secret.FromAddress, secret.To[0], "aanslag", "WOZ"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("read(%s) error %q contains message content", tc.name, err)
				}
			}
		})
	}
}

func TestReadTNEFHostile(t *testing.T) {
	good := writeTNEF(fixtureMessage())
	patched := func(off int, v uint32) []byte {
		b := append([]byte{}, good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	// The first attribute (attTnefVersion) starts at 6: level, id at 7, length at 11.
	props := bytes.Index(good, tnefAttr(tnefLevelMessage, 0x00069003, nil)[:5]) + 9
	cases := []hostileCase{
		{"empty", nil, 1 << 20, nil},
		{"wrong magic", append([]byte("From: x\r\n"), good...), 1 << 20, nil},
		{"truncated header", good[:5], 1 << 20, nil},
		{"truncated attribute", good[:len(good)-7], 1 << 20, nil},
		{"huge attribute length", patched(11, 0xFFFFFFF0), 1 << 20, nil},
		{"huge property count", patched(props, 0xFFFFFFFF), 1 << 20, nil},
		{"bad level", append(append([]byte{}, good[:6]...), append([]byte{9}, good[7:]...)...), 1 << 20, nil},
		{"over the limit", good, 1 << 10, errOutlookTooLarge},
		{"zero limit", good, 0, errOutlookTooLarge},
		{"intact", good, 1 << 20, errNone},
	}
	// Nested attached messages beyond the depth limit.
	deep := &outlookMessage{Subject: "x"}
	for i := 0; i <= maxOutlookDepth+1; i++ {
		deep = &outlookMessage{Attachments: []outlookAttachment{{Name: "m", Embedded: deep}}}
	}
	cases = append(cases, hostileCase{"nested too deep", writeTNEF(deep), 1 << 20, nil})
	// Tiny recipients and attachments that would each cost far more memory than input.
	rows := append(le32(tnefSignature), le16(1)...)
	rows = append(rows, tnefAttr(tnefLevelMessage, 0x00069004, append(le32(50000), make([]byte, 4*50000)...))...)
	atts := append(le32(tnefSignature), le16(1)...)
	for range 20000 {
		atts = append(atts, tnefAttr(tnefLevelAttachment, 0x00069002, nil)...)
	}
	cases = append(cases, hostileCase{"many recipients", rows, 256 << 10, errOutlookTooLarge},
		hostileCase{"many attachments", atts, 256 << 10, errOutlookTooLarge})
	checkHostile(t, func(b []byte, max int64) (*outlookMessage, error) { return readTNEF(bytes.NewReader(b), max) }, cases)
	for n := range good { // every truncation: an error or a shorter message, never a panic
		if _, err := readTNEF(bytes.NewReader(good[:n]), 1<<20); errors.Is(err, errOutlookPanic) {
			t.Fatalf("readTNEF(first %d bytes) panicked: %v", n, err)
		}
	}
}

func TestReadMSGHostile(t *testing.T) {
	good := writeMSG(fixtureMessage(), fixtureStrings{})
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(good[off:]) }
	fatAt := func(sector uint32) int { return 512 + int(u32(76))*512 + 4*int(sector) } // first FAT sector
	dirAt := func(entry int) int { return 512 + int(u32(48))*512 + 128*entry }
	patched := func(off int, v uint32) []byte {
		b := append([]byte{}, good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	// The PDF is the only stream in regular sectors: it starts at sector 0.
	pdf := bytes.Index(good, []byte("%PDF-1.4"))
	cases := []hostileCase{
		{"empty", nil, 1 << 20, nil},
		{"wrong magic", append([]byte("PK\x03\x04"), good[4:]...), 1 << 20, nil},
		{"truncated header", good[:300], 1 << 20, nil},
		{"truncated", good[:len(good)/2], 1 << 20, nil},
		{"directory FAT loop", patched(fatAt(u32(48)), u32(48)), 1 << 20, nil},
		{"mini FAT loop", patched(512+int(u32(60))*512, 0), 1 << 20, errMaybe},
		{"sector out of range", patched(dirAt(0)+116, 0x7FFFFFF0), 1 << 20, nil},
		{"child cycle", patched(dirAt(1)+76, 0), 1 << 20, nil},
		{"bad sector shift", patched(28, 0x0011FFFE), 1 << 20, nil},
		{"huge FAT count", patched(44, 0xFFFFFFF0), 1 << 20, errMaybe},
		{"over the limit", good, 1 << 12, errOutlookTooLarge},
		{"intact", good, 1 << 20, errNone},
	}
	if pdf != 512 {
		t.Fatalf("fixture layout: PDF at %d, want 512", pdf)
	}
	// A loop in the PDF's sector chain reads the same sectors again, never past its size.
	cases = append(cases, hostileCase{"stream FAT loop", patched(fatAt(3), 1), 1 << 20, errNone})
	for i := 0; i < len(good)/128; i++ { // every directory entry's size declared huge: bounded allocation
		off := 512 + i*128 + 120
		if off >= dirAt(0) && off < dirAt(0)+128*60 {
			cases = append(cases, hostileCase{fmt.Sprintf("huge size entry %d", (off-dirAt(0))/128), patched(off, 0xFFFFFFF0), 1 << 16, errMaybe})
		}
	}
	deep := &outlookMessage{Subject: "x"}
	for i := 0; i <= maxOutlookDepth+1; i++ {
		deep = &outlookMessage{Attachments: []outlookAttachment{{Name: "m", Embedded: deep}}}
	}
	cases = append(cases, hostileCase{"nested too deep", writeMSG(deep, fixtureStrings{}), 1 << 20, nil})
	var many []*cfbNode // a directory of 2.5 MB: mscfb would keep three times that
	for i := range 20000 {
		many = append(many, &cfbNode{name: fmt.Sprintf("__substg1.0_%08X", i)})
	}
	cases = append(cases, hostileCase{"huge directory", writeCFB(many), 256 << 10, errOutlookTooLarge})
	checkHostile(t, func(b []byte, max int64) (*outlookMessage, error) {
		return readMSG(bytes.NewReader(b), int64(len(b)), max)
	}, cases)
}
