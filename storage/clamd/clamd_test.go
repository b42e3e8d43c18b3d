package clamd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClamd speaks clamd's INSTREAM and PING on a listener, in process. The real clamd is
// tested in cmd/instroom (TestClamdClientAgainstRealClamd).
type fakeClamd struct {
	ln net.Listener
	// limit is StreamMaxLength (0: none); stall never answers INSTREAM; reply, when set,
	// is the verdict for every stream.
	limit int
	stall bool
	reply string

	mu  sync.Mutex
	got [][]byte // the streams received
}

func startFake(t *testing.T, network, addr string, f *fakeClamd) *fakeClamd {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	f.ln = ln
	done := make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(c, done) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); close(done); wg.Wait() })
	return f
}

func (f *fakeClamd) url() string {
	if f.ln.Addr().Network() == "unix" {
		return "unix://" + f.ln.Addr().String()
	}
	return "tcp://" + f.ln.Addr().String()
}

func (f *fakeClamd) serve(c net.Conn, done chan struct{}) {
	defer c.Close()
	r := bufio.NewReader(c)
	cmd, err := r.ReadString(0)
	if err != nil {
		return
	}
	switch cmd {
	case "zPING\x00":
		c.Write([]byte("PONG\x00"))
		return
	case "zINSTREAM\x00":
	default:
		c.Write([]byte("UNKNOWN COMMAND\x00"))
		return
	}
	var stream []byte
	for {
		var n uint32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return
		}
		if n == 0 {
			break
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return
		}
		stream = append(stream, chunk...)
		if f.limit > 0 && len(stream) > f.limit {
			// As clamd: answer, then close with the rest unread.
			c.Write([]byte("INSTREAM size limit exceeded. ERROR\x00"))
			return
		}
	}
	f.mu.Lock()
	f.got = append(f.got, stream)
	f.mu.Unlock()
	if f.stall {
		<-done
		return
	}
	reply := f.reply
	if reply == "" {
		reply = "stream: OK"
		if bytes.Contains(stream, []byte("EICAR")) {
			reply = "stream: Eicar-Test-Signature FOUND"
		}
	}
	c.Write([]byte(reply + "\x00"))
}

func (f *fakeClamd) last() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		return nil
	}
	return f.got[len(f.got)-1]
}

func TestScanStreamsContentInChunks(t *testing.T) {
	f := startFake(t, "tcp", "127.0.0.1:0", &fakeClamd{})
	c, err := New(f.url(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 5} {
		content := bytes.Repeat([]byte("abcdefg"), size/7+1)[:size]
		sig, err := c.Scan(context.Background(), bytes.NewReader(content))
		if err != nil || sig != "" {
			t.Fatalf("size %d: Scan = %q, %v; want clean", size, sig, err)
		}
		if got := f.last(); !bytes.Equal(got, content) {
			t.Errorf("size %d: clamd received %d bytes, want the %d sent", size, len(got), size)
		}
	}
	sig, err := c.Scan(context.Background(), strings.NewReader("some text with EICAR in it"))
	if err != nil || sig != "Eicar-Test-Signature" {
		t.Errorf("Scan = %q, %v; want Eicar-Test-Signature", sig, err)
	}
}

func TestScanOverClamdsSizeLimit(t *testing.T) {
	f := startFake(t, "tcp", "127.0.0.1:0", &fakeClamd{limit: 100 << 10})
	c, _ := New(f.url(), 5*time.Second)
	for _, size := range []int{200 << 10, 20 << 20} {
		_, err := c.Scan(context.Background(), bytes.NewReader(make([]byte, size)))
		if !errors.Is(err, ErrSizeLimit) {
			t.Errorf("%d bytes over a limit of 100 KiB: err = %v, want ErrSizeLimit", size, err)
		}
	}
}

func TestScanErrorsAreTemporaryAndFreeOfContent(t *testing.T) {
	secret := "Geheime inhoud van burger 123456789"
	f := startFake(t, "tcp", "127.0.0.1:0", &fakeClamd{reply: "stream: Can't create temporary file ERROR"})
	c, _ := New(f.url(), 5*time.Second)
	_, err := c.Scan(context.Background(), strings.NewReader(secret))
	if err == nil || errors.Is(err, ErrSizeLimit) || !strings.Contains(err.Error(), "Can't create temporary file") {
		t.Fatalf("err = %v, want clamd's message", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error holds the content: %v", err)
	}

	// Nothing listens: connecting fails.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c, _ = New("tcp://"+addr, time.Second)
	if _, err := c.Scan(context.Background(), strings.NewReader(secret)); err == nil || errors.Is(err, ErrSizeLimit) || strings.Contains(err.Error(), secret) {
		t.Errorf("unreachable clamd: err = %v", err)
	}
	if err := c.Ping(context.Background()); err == nil {
		t.Error("Ping of an unreachable clamd succeeded")
	}
}

func TestScanTimeoutAndCancel(t *testing.T) {
	f := startFake(t, "tcp", "127.0.0.1:0", &fakeClamd{stall: true})
	c, _ := New(f.url(), 100*time.Millisecond)
	_, err := c.Scan(context.Background(), strings.NewReader("x"))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("silent clamd: err = %v, want a deadline error", err)
	}

	c, _ = New(f.url(), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(f.allStreams()) < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := c.Scan(ctx, strings.NewReader("y")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: err = %v, want context.Canceled", err)
	}
}

func (f *fakeClamd) allStreams() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.got...)
}

func TestUnixSocketAndPing(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "clamd.ctl")
	f := startFake(t, "unix", sock, &fakeClamd{})
	c, err := New(f.url(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.String() != "unix://"+sock {
		t.Errorf("String() = %q", c.String())
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if sig, err := c.Scan(context.Background(), strings.NewReader("EICAR")); err != nil || sig == "" {
		t.Errorf("Scan over the unix socket = %q, %v", sig, err)
	}
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct{ in, network, addr string }{
		{"tcp://127.0.0.1:3310", "tcp", "127.0.0.1:3310"},
		{"tcp://clamav.example:3310/", "tcp", "clamav.example:3310"},
		{"tcp://[::1]:3310", "tcp", "[::1]:3310"},
		{"unix:///run/clamav/clamd.ctl", "unix", "/run/clamav/clamd.ctl"},
		{"unix:/run/clamav/clamd.ctl", "unix", "/run/clamav/clamd.ctl"},
		{"127.0.0.1:3310", "", ""},
		{"tcp://127.0.0.1", "", ""},
		{"tcp://user@127.0.0.1:3310", "", ""},
		{"unix://run/clamd.ctl", "", ""},
		{"http://127.0.0.1:3310", "", ""},
		{"", "", ""},
	} {
		network, addr, err := ParseAddress(tc.in)
		if tc.network == "" {
			if err == nil {
				t.Errorf("ParseAddress(%q) = %s %s, want an error", tc.in, network, addr)
			}
			continue
		}
		if err != nil || network != tc.network || addr != tc.addr {
			t.Errorf("ParseAddress(%q) = %q %q %v, want %q %q", tc.in, network, addr, err, tc.network, tc.addr)
		}
	}
	if _, err := New("nonsense", 0); err == nil {
		t.Error("New accepted a bad address")
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		reply, sig string
		err        bool
	}{
		{"stream: OK", "", false},
		{"stream: OK\n", "", false},
		{"stream: Eicar-Test-Signature FOUND", "Eicar-Test-Signature", false},
		{"stream: Eicar-Test-Signature.UNOFFICIAL FOUND", "Eicar-Test-Signature.UNOFFICIAL", false},
		{"stream: Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68) FOUND", "Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68)", false},
		{"stream:  FOUND", "", true},
		{"stream: bad\x01sig FOUND", "", true},
		{"stream: Can't allocate memory ERROR", "", true},
		{"INSTREAM size limit exceeded. ERROR", "", true},
		{"PONG", "", true},
		{"", "", true},
	} {
		sig, err := ParseReply(tc.reply)
		if sig != tc.sig || (err != nil) != tc.err {
			t.Errorf("ParseReply(%q) = %q, %v", tc.reply, sig, err)
		}
	}
	if _, err := ParseReply("INSTREAM size limit exceeded. ERROR"); !errors.Is(err, ErrSizeLimit) {
		t.Errorf("size limit reply: %v", err)
	}
}

// FuzzParseReply: any reply gives either a printable, bounded signature, clean, or an
// error whose text is printable (nothing of a reply's odd bytes is passed on).
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR",
		"stream: Can't allocate memory ERROR", "stream: x FOUND FOUND", "stream: \xff FOUND", "PONG", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		sig, err := ParseReply(reply)
		if err != nil {
			if sig != "" {
				t.Fatalf("signature %q with error %v", sig, err)
			}
			if msg := err.Error(); !printable(msg) || len(msg) > 200 {
				t.Fatalf("error text not printable or too long: %q", msg)
			}
			return
		}
		if sig == "" {
			if strings.TrimRight(reply, "\x00\r\n") != "stream: OK" {
				t.Fatalf("%q taken as clean", reply)
			}
			return
		}
		if !printable(sig) || len(sig) > maxSignature {
			t.Fatalf("signature %q not printable or too long", sig)
		}
		if again, err := ParseReply("stream: " + sig + " FOUND"); err != nil || again != sig {
			t.Fatalf("signature %q does not round-trip: %q, %v", sig, again, err)
		}
	})
}
