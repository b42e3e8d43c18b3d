package ingesttest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EICAR is the EICAR anti-virus test file (68 bytes): harmless, and reported by every
// virus scanner. It is assembled from two halves so that this source file is not itself
// taken for the test file.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// EICARSignature is the name the test database gives EICAR. clamd reports it with
// ".UNOFFICIAL" appended (the database is not signed by ClamAV).
const EICARSignature = "Eicar-Test-Signature"

// ClamdOptions configure a test clamd.
type ClamdOptions struct {
	// StreamMaxLength is clamd's limit on one INSTREAM stream (default 25 MiB).
	StreamMaxLength int64
}

// Clamd is a ClamAV daemon run by the test with its own configuration and a database of
// one signature, EICAR by its MD5 hash (ClamAV's own databases cannot be downloaded here,
// and the test needs none of them).
type Clamd struct {
	*Process
	Addr   string // 127.0.0.1:PORT
	URL    string // tcp://127.0.0.1:PORT
	Socket string // its unix socket
	Dir    string
}

// StartClamd writes a configuration and a test signature database and starts clamd in
// the foreground; it returns once clamd answers PING (it loads its databases first).
func StartClamd(t testing.TB, opts ClamdOptions) *Clamd {
	t.Helper()
	bin := Need(t, "clamd")
	dir := t.TempDir()
	for _, d := range []string{"db", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sum := md5.Sum([]byte(EICAR))
	hdb := fmt.Sprintf("%s:%d:%s\n", hex.EncodeToString(sum[:]), len(EICAR), EICARSignature)
	if err := os.WriteFile(filepath.Join(dir, "db", "test.hdb"), []byte(hdb), 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.StreamMaxLength == 0 {
		opts.StreamMaxLength = 25 << 20
	}
	port := FreePort(t)
	c := &Clamd{Addr: fmt.Sprintf("127.0.0.1:%d", port), Socket: filepath.Join(dir, "clamd.ctl"), Dir: dir}
	c.URL = "tcp://" + c.Addr
	// No User: clamd keeps the test's user. ScanMail decodes a mail's attachments, so an
	// .eml with EICAR attached is found too.
	conf := fmt.Sprintf(`Foreground yes
TCPSocket %d
TCPAddr 127.0.0.1
LocalSocket %s
DatabaseDirectory %s
TemporaryDirectory %s
StreamMaxLength %d
MaxFileSize %d
MaxScanSize %d
ScanMail yes
SelfCheck 0
`, port, c.Socket, filepath.Join(dir, "db"), filepath.Join(dir, "tmp"), opts.StreamMaxLength, opts.StreamMaxLength, 4*opts.StreamMaxLength)
	cfg := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Process = StartProcess(t, c.Addr, nil, bin, "--config-file="+cfg)
	if err := c.WaitPing(30 * time.Second); err != nil {
		t.Fatalf("clamd: %v\n%s", err, c.Log())
	}
	return c
}

// WaitPing waits until clamd answers PING.
func (c *Clamd) WaitPing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.ping()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG after %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Clamd) ping() error {
	conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, _ := conn.Read(buf)
	if reply := strings.TrimRight(string(buf[:n]), "\x00\n"); reply != "PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}
