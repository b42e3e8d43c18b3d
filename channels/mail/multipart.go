package mail

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// multipartReader splits a multipart body into its parts while it streams. It is
// tolerant where real mail is broken: a part that runs to the end of the input ends
// there (missing closing delimiter), and a delimiter followed by transport padding still
// counts. Each part is a reader over the part's raw header and body; the delimiter's
// line ending belongs to the delimiter (RFC 2046 §5.1.1), so a part's content ends
// exactly where the sender's content ended.
type multipartReader struct {
	br     *bufio.Reader
	dash   []byte // "--" + boundary
	cur    *partReader
	closed bool // the close delimiter was seen
	eof    bool // the input ended
	parts  int
}

func newMultipartReader(br *bufio.Reader, boundary string) *multipartReader {
	return &multipartReader{br: br, dash: []byte("--" + boundary)}
}

// errNoMoreParts is returned by next after the last part.
var errNoMoreParts = errors.New("mail: no more parts")

// next skips what is left of the current part (or the preamble) and returns a reader
// for the next part, or errNoMoreParts. I/O errors other than EOF are returned as is.
func (m *multipartReader) next() (*partReader, error) {
	if m.cur == nil {
		// The preamble: skip lines until the first delimiter.
		m.cur = &partReader{m: m, atLineStart: true}
		if err := m.cur.drain(); err != nil {
			return nil, err
		}
		m.cur.done = false
	} else if err := m.cur.drain(); err != nil {
		return nil, err
	}
	if m.closed || m.eof {
		return nil, errNoMoreParts
	}
	m.parts++
	m.cur = &partReader{m: m, atLineStart: true}
	return m.cur, nil
}

// complete reports whether the multipart ended with its close delimiter.
func (m *multipartReader) complete() bool { return m.closed }

// delimiter reports whether line (with its line ending) is a delimiter of this
// multipart, and whether it is the close delimiter.
func (m *multipartReader) delimiter(line []byte) (is, closing bool) {
	if !bytes.HasPrefix(line, m.dash) {
		return false, false
	}
	rest := line[len(m.dash):]
	if bytes.HasPrefix(rest, []byte("--")) {
		closing = true
		rest = rest[2:]
	}
	// Only transport padding (white space) may follow; anything else means a longer
	// boundary that merely starts with ours.
	for _, c := range rest {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return false, false
		}
	}
	return true, closing
}

// partReader reads one part. It holds back each line's ending until it knows the next
// line is not a delimiter.
type partReader struct {
	m           *multipartReader
	buf         []byte // output not yet returned
	store       []byte // the backing array of buf, reused line after line
	pending     []byte // the held-back line ending of the previous line
	atLineStart bool
	done        bool
}

func (p *partReader) Read(b []byte) (int, error) {
	for len(p.buf) == 0 {
		if p.done {
			return 0, io.EOF
		}
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

// fill reads one line (or a buffer-full of a long line) into p.buf.
func (p *partReader) fill() error {
	line, err := p.m.br.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, bufio.ErrBufferFull):
		// A long line: it cannot be a delimiter; pass it on.
		p.setBuf(line)
		p.atLineStart = false
		return nil
	case errors.Is(err, io.EOF):
		if p.atLineStart {
			if is, closing := p.m.delimiter(line); is && len(line) > 0 {
				p.end(closing)
				p.m.eof = true
				return nil
			}
		}
		p.setBuf(line)
		p.done, p.m.eof = true, true
		return nil
	default:
		return err
	}
	if p.atLineStart {
		if is, closing := p.m.delimiter(line); is {
			p.end(closing)
			return nil
		}
	}
	body, ending := splitEnding(line)
	p.setBuf(body)
	p.pending = append(p.pending[:0], ending...)
	p.atLineStart = true
	return nil
}

// setBuf makes the held-back line ending and b the output, in the reused store (buf is
// always used up before the next fill).
func (p *partReader) setBuf(b []byte) {
	p.store = append(append(p.store[:0], p.pending...), b...)
	p.buf = p.store
	p.pending = p.pending[:0]
}

func (p *partReader) end(closing bool) {
	p.done = true
	p.pending = p.pending[:0]
	if closing {
		p.m.closed = true
	}
}

// drain reads the rest of the part.
func (p *partReader) drain() error {
	for !p.done {
		p.buf = p.buf[:0]
		if err := p.fill(); err != nil {
			return err
		}
	}
	p.buf = nil
	return nil
}

// splitEnding splits a line into its content and its line ending (CRLF or LF).
func splitEnding(line []byte) (body, ending []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		if n > 1 && line[n-2] == '\r' {
			return line[:n-2], line[n-2:]
		}
		return line[:n-1], line[n-1:]
	}
	return line, nil
}
