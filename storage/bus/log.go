package bus

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/instroom/instroom/storage/fsutil"
)

// Record is one line of the log.
type Record struct {
	Topic   string            `json:"topic"`
	Key     string            `json:"key"`
	Headers map[string]string `json:"headers"`
	Value   json.RawMessage   `json:"value"`
}

// Log writes events to append-only local files, one JSON line per event and one file per
// topic (<dir>/<topic>.jsonl). It is the embedded default when no Kafka is configured.
//
// Every Publish is fsynced before it returns. An event whose id and content are among the
// last 100,000 of its topic is not written again, so a redone item does not double its
// events. A line torn by a crash is cut off when the log is opened.
type Log struct {
	dir string

	mu    sync.Mutex
	files map[string]*topicFile
}

// seenWindow is how many recent events per topic the log remembers to skip a redone
// item's identical events. A redo follows its first attempt within minutes (a crash and
// restart), so a window bounds memory without letting doubles through in practice.
const seenWindow = 100_000

type topicFile struct {
	f    *os.File
	seen map[[32]byte]bool
	ring [][32]byte // insertion order of seen, for the window
}

func (tf *topicFile) remember(id [32]byte) {
	if tf.seen[id] {
		return
	}
	tf.seen[id] = true
	tf.ring = append(tf.ring, id)
	if len(tf.ring) > seenWindow {
		delete(tf.seen, tf.ring[0])
		tf.ring = tf.ring[1:]
	}
}

// Open opens (creating) the event log in dir.
func Open(dir string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: creating directory: %w", err)
	}
	return &Log{dir: dir, files: map[string]*topicFile{}}, nil
}

var topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// Path returns the file of a topic.
func (l *Log) Path(topic string) string { return filepath.Join(l.dir, topic+".jsonl") }

func (l *Log) topic(name string) (*topicFile, error) {
	if tf, ok := l.files[name]; ok {
		return tf, nil
	}
	if !topicRE.MatchString(name) || name == "." || name == ".." {
		return nil, fmt.Errorf("bus: invalid topic name")
	}
	p := l.Path(name)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("bus: opening topic: %w", err)
	}
	tf := &topicFile{f: f, seen: map[[32]byte]bool{}}
	if err := tf.load(); err != nil {
		f.Close()
		return nil, err
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		f.Close()
		return nil, err
	}
	l.files[name] = tf
	return tf, nil
}

// load reads the existing lines, remembers their identities and cuts a torn last line.
func (tf *topicFile) load() error {
	if _, err := tf.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReaderSize(tf.f, 1<<16)
	var good int64
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a last line without newline is torn: dropped below
		}
		if err != nil {
			return fmt.Errorf("bus: reading topic: %w", err)
		}
		var r Record
		if json.Unmarshal(line, &r) == nil {
			tf.remember(identity(&r))
		}
		good += int64(len(line))
	}
	if err := tf.f.Truncate(good); err != nil {
		return fmt.Errorf("bus: repairing topic: %w", err)
	}
	_, err := tf.f.Seek(good, io.SeekStart)
	return err
}

func identity(r *Record) [32]byte {
	h := sha256.New()
	h.Write([]byte(r.Headers["ce_id"]))
	h.Write([]byte{0})
	h.Write(r.Value)
	var id [32]byte
	copy(id[:], h.Sum(nil))
	return id
}

// Append writes records durably. Records already in the log are skipped.
func (l *Log) Append(ctx context.Context, recs ...Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	byTopic := map[string]*bytes.Buffer{}
	var order []string
	var ids [][32]byte
	var tfs []*topicFile
	for i := range recs {
		r := &recs[i]
		tf, err := l.topic(r.Topic)
		if err != nil {
			return err
		}
		id := identity(r)
		if tf.seen[id] {
			continue
		}
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("bus: encoding event: %w", err)
		}
		b, ok := byTopic[r.Topic]
		if !ok {
			b = &bytes.Buffer{}
			byTopic[r.Topic] = b
			order = append(order, r.Topic)
		}
		b.Write(line)
		b.WriteByte('\n')
		ids = append(ids, id)
		tfs = append(tfs, tf)
	}
	for _, t := range order {
		tf := l.files[t]
		if _, err := tf.f.Write(byTopic[t].Bytes()); err != nil {
			return fmt.Errorf("bus: appending: %w", err)
		}
		if err := tf.f.Sync(); err != nil {
			return fmt.Errorf("bus: syncing: %w", err)
		}
	}
	for i, id := range ids {
		tfs[i].remember(id)
	}
	return nil
}

// Publish appends messages durably (see Append).
func (l *Log) Publish(ctx context.Context, msgs ...Message) error {
	recs := make([]Record, len(msgs))
	for i, m := range msgs {
		h := make(map[string]string, len(m.Headers))
		for _, kv := range m.Headers {
			h[kv.Key] = kv.Value
		}
		recs[i] = Record{Topic: m.Topic, Key: m.Key, Headers: h, Value: m.Value}
	}
	return l.Append(ctx, recs...)
}

// Close closes the topic files.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for _, tf := range l.files {
		if err := tf.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	l.files = map[string]*topicFile{}
	return first
}

// ReadAll reads every record of a topic, in order (for tests and tools).
func ReadAll(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("bus: decoding line: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}
