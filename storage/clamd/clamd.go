// Package clamd is a client of ClamAV's scanning daemon, clamd: it streams content with
// the INSTREAM command and asks for readiness with PING, over TCP or a unix socket.
//
// INSTREAM (clamd(8)): the client sends "zINSTREAM\0", then the content in chunks, each
// preceded by its length as a 4-byte big-endian number, then a chunk of length zero.
// clamd answers "stream: OK", "stream: <signature> FOUND", or "<message> ERROR"
// ("INSTREAM size limit exceeded. ERROR" when the stream is longer than clamd's
// StreamMaxLength), ended by a NUL byte because the command started with 'z'.
//
// Errors never hold the scanned content; they hold clamd's own words at most.
package clamd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultTimeout is the timeout of a client made with timeout 0.
const DefaultTimeout = 60 * time.Second

// chunkSize is the size of the chunks the content is sent in. clamd accepts any chunk up
// to its StreamMaxLength.
const chunkSize = 64 << 10

// maxReply bounds what is read of a reply; real replies are well under 300 bytes.
const maxReply = 4096

// ErrSizeLimit means clamd refused the content because it is longer than clamd's
// StreamMaxLength. Sending it again cannot help; clamd's limit must be raised.
var ErrSizeLimit = errors.New("clamd: the content is longer than clamd's StreamMaxLength")

// Client talks to one clamd. It is safe for concurrent use: every call opens its own
// connection (clamd serves one command per connection).
type Client struct {
	network string // "tcp" or "unix"
	addr    string
	timeout time.Duration
}

// New returns a client of the clamd at address, "tcp://HOST:PORT" or
// "unix:///PATH/clamd.ctl". The timeout bounds every wait for clamd: connecting, handing
// over one chunk, and the verdict after the last chunk (so a large stream that keeps
// moving never times out); 0 means DefaultTimeout.
func New(address string, timeout time.Duration) (*Client, error) {
	network, addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{network: network, addr: addr, timeout: timeout}, nil
}

// ParseAddress splits a clamd address into a network ("tcp" or "unix") and the address
// to dial.
func ParseAddress(address string) (network, addr string, err error) {
	u, err := url.Parse(address)
	if err != nil {
		return "", "", fmt.Errorf("clamd: address %q is not tcp://HOST:PORT or unix:///PATH", address)
	}
	switch {
	case u.Scheme == "tcp" && u.Host != "" && u.Port() != "" && (u.Path == "" || u.Path == "/") && u.User == nil && u.RawQuery == "":
		return "tcp", u.Host, nil
	case u.Scheme == "unix" && u.Host == "" && strings.HasPrefix(u.Path, "/") && u.RawQuery == "":
		return "unix", u.Path, nil
	}
	return "", "", fmt.Errorf("clamd: address %q is not tcp://HOST:PORT or unix:///PATH", address)
}

// String names the clamd the client talks to.
func (c *Client) String() string { return c.network + "://" + c.addr }

// Ping asks clamd whether it is up; it answers once its databases are loaded.
func (c *Client) Ping(ctx context.Context) error {
	conn, stop, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer stop()
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return c.ioErr(ctx, "sending PING", err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return c.ioErr(ctx, "reading the PING reply", err)
	}
	if reply != "PONG" {
		return fmt.Errorf("clamd: PING answered with an unexpected reply (%d bytes)", len(reply))
	}
	return nil
}

// Scan streams r to clamd and returns the name of the signature clamd found, or "" when
// the content is clean. It returns ErrSizeLimit when the content is longer than clamd's
// StreamMaxLength; any other error means the content was not scanned (clamd unreachable,
// too slow, or failing), which a retry may fix.
func (c *Client) Scan(ctx context.Context, r io.Reader) (string, error) {
	conn, stop, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	defer stop()
	if err := c.send(ctx, conn, r); err != nil {
		return "", err
	}
	conn.SetDeadline(time.Now().Add(c.timeout))
	reply, err := readReply(conn)
	if err != nil {
		return "", c.ioErr(ctx, "reading the verdict", err)
	}
	return ParseReply(reply)
}

// send writes the INSTREAM command, the content in chunks and the terminating chunk.
// When clamd stops reading (it answers and closes at its size limit), its reply is read
// to tell why.
func (c *Client) send(ctx context.Context, conn net.Conn, r io.Reader) error {
	buf := make([]byte, 4+chunkSize)
	write := func(b []byte) error {
		conn.SetDeadline(time.Now().Add(c.timeout))
		if _, err := conn.Write(b); err != nil {
			if ctx.Err() == nil {
				conn.SetDeadline(time.Now().Add(c.timeout))
				if reply, rerr := readReply(conn); rerr == nil && reply != "" {
					if _, perr := ParseReply(reply); perr != nil {
						return perr
					}
				}
			}
			return c.ioErr(ctx, "sending content", err)
		}
		return nil
	}
	if err := write([]byte("zINSTREAM\x00")); err != nil {
		return err
	}
	for {
		n, rerr := io.ReadFull(r, buf[4:])
		if n > 0 {
			binary.BigEndian.PutUint32(buf[:4], uint32(n))
			if err := write(buf[:4+n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("clamd: reading the content to scan: %w", rerr)
		}
	}
	return write([]byte{0, 0, 0, 0})
}

// dial connects to clamd and arranges for ctx to end the connection's I/O. The returned
// stop must be called when the connection is done.
func (c *Client) dial(ctx context.Context) (net.Conn, func() bool, error) {
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("clamd: %w", ctx.Err())
		}
		return nil, nil, fmt.Errorf("clamd: connecting: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return conn, stop, nil
}

// ioErr describes an I/O failure: the context's end, a timeout, or the error itself.
func (c *Client) ioErr(ctx context.Context, doing string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("clamd: %s: %w", doing, ctx.Err())
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("clamd: %s: no answer within %v: %w", doing, c.timeout, err)
	}
	return fmt.Errorf("clamd: %s: %w", doing, err)
}

// readReply reads one reply: up to its NUL byte, or to the end of the connection.
func readReply(r io.Reader) (string, error) {
	var out []byte
	buf := make([]byte, 512)
	for len(out) <= maxReply {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if i := indexNUL(out); i >= 0 {
			return string(out[:i]), nil
		}
		if err == io.EOF {
			if len(out) == 0 {
				return "", io.ErrUnexpectedEOF
			}
			return string(out), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("reply longer than %d bytes", maxReply)
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}
