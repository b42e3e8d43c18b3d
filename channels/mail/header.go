package mail

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
)

// field is one header field: Key as written (trimmed), Value unfolded (the line breaks of
// folding removed, the white space after them kept), trimmed, and still raw: not yet
// RFC 2047 decoded, 8-bit bytes as they came.
type field struct{ Key, Value string }

// header is a header section in order.
type header struct{ fields []field }

// Get returns the value of the first field named key (any case), "" if there is none.
func (h header) Get(key string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}

// Values returns the values of every field named key (any case), in order.
func (h header) Values(key string) []string {
	var out []string
	for _, f := range h.fields {
		if strings.EqualFold(f.Key, key) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Has reports whether there is a field named key (any case).
func (h header) Has(key string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.Key, key) {
			return true
		}
	}
	return false
}

// looksLikeHeaderLine reports whether line (without line ending) is a plausible header
// field line: a field name of printable ASCII without ':' or space, optionally followed by
// white space (obsolete syntax), then ':'.
func looksLikeHeaderLine(line []byte) bool {
	_, ok := fieldNameEnd(line)
	return ok
}

// fieldNameEnd returns the length of the field name of a header line and whether the line
// is one.
func fieldNameEnd(line []byte) (int, bool) {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	n := i
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return n, n > 0 && i < len(line) && line[i] == ':'
}

// headerPeek is how far readHeader looks ahead to decide about a line that is not a
// header line at the start of a section or a line of only white space.
const headerPeek = 1024

// readHeader reads one header section from br up to and including the empty line that ends
// it (CRLF or LF), or EOF. It never fails on syntax; it repairs (repairHeader unless
// noted):
//   - white space between field name and colon: dropped;
//   - a continuation line with no field before it: read as a field if it is a header
//     line once its indentation is removed, otherwise dropped;
//   - a line without a colon that is no continuation: appended to the field before it,
//     with a space;
//   - lines that are not header lines at the very start of the section: dropped if a
//     header line follows before an empty line; otherwise the section is taken to be
//     missing and readHeader returns an empty header, consuming nothing (a MIME part
//     whose body starts straight after the boundary line);
//   - a line of only white space ends the section unless a header or continuation line
//     follows (then it is obsolete folding, which is legal: no repair);
//   - NUL and other C0 controls except TAB, and DEL: removed (repairControl); a bare CR
//     inside a line counts as white space.
//
// 8-bit bytes are kept as they are. A section that ends at EOF without an empty line is
// fine. maxBytes (if > 0) bounds the section: past it the rest of the section is read and
// discarded and repairLimits is added. The error is an I/O error of br other than io.EOF.
func readHeader(br *bufio.Reader, maxBytes int, r *repairs) (header, error) {
	hr := headerReader{br: br, max: maxBytes, r: r}
	if err := hr.start(); err != nil || hr.done {
		return header{}, ignoreEOF(err)
	}
	for !hr.done {
		keep := math.MaxInt
		if hr.max > 0 {
			keep = hr.max - hr.used + 1
		}
		raw, err := readLimitedLine(br, keep)
		hr.used += len(raw)
		if hr.max > 0 && hr.used > hr.max {
			r.add(repairLimits)
			hr.finish()
			return header{hr.fields}, hr.skip(raw, err)
		}
		if len(raw) > 0 {
			hr.line(raw)
		}
		if err != nil {
			hr.finish()
			return header{hr.fields}, ignoreEOF(err)
		}
	}
	hr.finish()
	return header{hr.fields}, nil
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// headerReader is the state of readHeader.
type headerReader struct {
	br     *bufio.Reader
	max    int
	used   int
	r      *repairs
	fields []field
	key    string // the field being read, "" if none
	val    []byte
	done   bool
}

// start looks at the first lines of the section and drops leading lines that are not
// header lines, or decides there is no header section at all.
func (hr *headerReader) start() error {
	peek, err := hr.br.Peek(min(headerPeek, hr.br.Size()))
	if len(peek) == 0 {
		hr.done = true
		return err
	}
	skip := 0
	for i := 0; i < 5 && skip < len(peek); i++ {
		line, next := peekLine(peek, skip)
		clean, _ := cleanHeaderLine(line)
		if len(clean) == 0 || isWSP(clean[0]) || looksLikeHeaderLine(clean) {
			if i > 0 {
				hr.r.add(repairHeader)
				_, _ = hr.br.Discard(skip) // peeked, so it cannot fail
			}
			return nil
		}
		skip = next
	}
	hr.r.add(repairHeader)
	hr.done = true
	return nil
}

// peekLine returns the line of buf that starts at off, without its line ending, and the
// offset of the next line.
func peekLine(buf []byte, off int) (line []byte, next int) {
	end := bytes.IndexByte(buf[off:], '\n')
	if end < 0 {
		return buf[off:], len(buf)
	}
	return buf[off : off+end], off + end + 1
}

// line handles one raw line of the section.
func (hr *headerReader) line(raw []byte) {
	line, ctl := cleanHeaderLine(raw)
	if ctl {
		hr.r.add(repairControl)
	}
	switch {
	case len(line) == 0:
		hr.done = true
	case isBlankLine(line):
		if !hr.followsField() {
			hr.r.add(repairHeader)
			hr.done = true
		}
	case isWSP(line[0]) && hr.key != "":
		hr.val = append(hr.val, line...)
	case isWSP(line[0]):
		hr.r.add(repairHeader)
		if t := bytes.TrimLeft(line, " \t"); looksLikeHeaderLine(t) {
			hr.field(t)
		}
	case looksLikeHeaderLine(line):
		hr.field(line)
	case hr.key != "":
		hr.r.add(repairHeader)
		hr.val = append(append(hr.val, ' '), line...)
	default:
		hr.r.add(repairHeader) // a stray line with nothing before it: dropped
	}
}

// followsField reports whether the line after a line of only white space continues the
// section: it is indented or a header line.
func (hr *headerReader) followsField() bool {
	peek, _ := hr.br.Peek(min(headerPeek, hr.br.Size()))
	line, _ := peekLine(peek, 0)
	line, _ = cleanHeaderLine(line)
	return len(line) > 0 && (isWSP(line[0]) || looksLikeHeaderLine(line))
}

// field starts a new field from a header line.
func (hr *headerReader) field(line []byte) {
	hr.finish()
	n, _ := fieldNameEnd(line)
	colon := bytes.IndexByte(line, ':')
	if colon != n {
		hr.r.add(repairHeader) // "Subject : x"
	}
	hr.key = string(line[:n])
	hr.val = append(hr.val[:0], line[colon+1:]...)
}

// finish stores the field being read.
func (hr *headerReader) finish() {
	if hr.key != "" {
		v := strings.Trim(string(hr.val), " \t")
		hr.fields = append(hr.fields, field{Key: hr.key, Value: v})
	}
	hr.key, hr.val = "", hr.val[:0]
}

// skip reads and discards the rest of a section that is over the limit; raw is the line
// that went over it.
func (hr *headerReader) skip(raw []byte, err error) error {
	for {
		if err != nil {
			return ignoreEOF(err)
		}
		if line, _ := cleanHeaderLine(raw); len(line) == 0 || (isBlankLine(line) && !hr.followsField()) {
			return nil
		}
		raw, err = readLimitedLine(hr.br, 256)
		if len(raw) == 0 && err != nil {
			return ignoreEOF(err)
		}
	}
}

// cleanHeaderLine removes the line ending, turns a bare CR into a space and removes other
// C0 controls except TAB, and DEL (ctl reports those). It returns raw itself when nothing
// changes.
func cleanHeaderLine(raw []byte) (line []byte, ctl bool) {
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	clean := true
	for _, c := range raw {
		if c < ' ' && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return raw, false
	}
	line = make([]byte, 0, len(raw))
	for _, c := range raw {
		switch {
		case c == '\r':
			line = append(line, ' ')
		case c < ' ' && c != '\t' || c == 0x7f:
			ctl = true
		default:
			line = append(line, c)
		}
	}
	return line, ctl
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// isBlankLine reports whether a non-empty line holds only white space.
func isBlankLine(line []byte) bool {
	return len(bytes.Trim(line, " \t")) == 0
}

// Preamble look-ahead limits of skipPreamble.
const (
	preambleLines = 8
	preambleBytes = 4 << 10
)

// skipPreamble is called once, on the top-level message only, before readHeader: it
// consumes what comes before the first header line in mail exported from mailboxes and
// tools: an mbox envelope line ("From " or ">From " at the very start), a UTF-8 byte order
// mark, export banners such as "---- Original email message ----" or
// "-----Original Message-----", and blank lines. It looks ahead at most 8 lines or 4 KiB;
// if no header line follows within that, it consumes nothing. It reports nothing: these
// are not repairs.
func skipPreamble(br *bufio.Reader) error {
	buf, err := br.Peek(min(preambleBytes, br.Size()))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	off := 0
	if bytes.HasPrefix(buf, []byte("\xEF\xBB\xBF")) {
		off = 3
	}
	for i := 0; i < preambleLines && off < len(buf); i++ {
		line, next := peekLine(buf, off)
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case looksLikeHeaderLine(line):
			_, err := br.Discard(off)
			return err
		case i == 0 && (bytes.HasPrefix(line, []byte("From ")) || bytes.HasPrefix(line, []byte(">From "))):
		case isBlankLine(line) || isBanner(line):
		default:
			return nil
		}
		off = next
	}
	return nil
}

// isBanner reports whether line is a separator line such as "-----Original Message-----":
// it starts and ends with two or more of '-', '=' or '*'.
func isBanner(line []byte) bool {
	t := bytes.Trim(line, " \t")
	if len(t) < 4 {
		return false
	}
	c := t[0]
	return (c == '-' || c == '=' || c == '*') && t[1] == c && t[len(t)-1] == c && t[len(t)-2] == c
}

// readLimitedLine reads one line including its '\n', keeping at most keep bytes of it (a
// copy) and discarding the rest.
func readLimitedLine(br *bufio.Reader, keep int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if room := keep - len(line); room > 0 {
			line = append(line, chunk[:min(room, len(chunk))]...)
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}
