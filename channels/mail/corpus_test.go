//go:build corpus

package mail_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

// TestCorpus parses real-world mail: the fixture sets of other mail parsers (Ruby mail,
// SpamScope mail-parser, Nodemailer mailparser, enmime, MimeKit, mime4j, ...), exported to
// local directories. It is opt-in, not part of CI, and none of those files belong in this
// repository:
//
//	INSTROOM_MAIL_CORPUS=/tmp/corpora/mikel-mail:/tmp/corpora/enmime go test -tags corpus ./channels/mail -run TestCorpus -v
//
// Every regular file under each directory is parsed, mapped and validated against the
// Open Klant schema, except repository files that are plainly not mails (README, source
// code, JSON, XML, and .txt files without a header line; see repoFile). Files are named
// "<corpus>/<relative path>", where <corpus> is the base name of the directory.
//
// The test fails when a file that is a mail is refused, when a mapped registration is
// invalid, on a temporary error or a panic, and when one file takes more than
// corpusFileTimeout. True non-mails (images, empty files, binary blobs, text without any
// header line) must be refused; they are listed, each with its reason, in
// testdata/corpus-nonmail.txt. A listed file that is accepted also fails the test, unless
// its entry says accepting it is tolerated (text that looks partly like a mail).
//
// INSTROOM_MAIL_CORPUS_REPORT=FILE additionally writes one JSON line per parsed file
// (result, reason, duration, and a summary of the intake) for reviewing the results.
func TestCorpus(t *testing.T) {
	dirs := os.Getenv("INSTROOM_MAIL_CORPUS")
	if dirs == "" {
		t.Skip("opt-in corpus test: set INSTROOM_MAIL_CORPUS to a colon-separated list of directories of real-world mails, " +
			"e.g. INSTROOM_MAIL_CORPUS=/tmp/corpora/mikel-mail:/tmp/corpora/enmime go test -tags corpus ./channels/mail -run TestCorpus -v")
	}
	allow, err := readNonMailList("testdata/corpus-nonmail.txt")
	if err != nil {
		t.Fatal(err)
	}
	var report *json.Encoder
	if rp := os.Getenv("INSTROOM_MAIL_CORPUS_REPORT"); rp != "" {
		f, err := os.Create(rp)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		defer w.Flush()
		report = json.NewEncoder(w)
	}

	p := mail.NewParser(&mail.Options{MaxBytes: 64 << 20})
	var sum corpusSummary
	for _, dir := range filepath.SplitList(dirs) {
		if dir == "" {
			continue
		}
		dir = filepath.Clean(dir)
		corpus := filepath.Base(dir)
		err := filepath.WalkDir(dir, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(dir, file)
			if err != nil {
				return err
			}
			name := corpus + "/" + filepath.ToSlash(rel)
			raw, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if repoFile(d.Name(), raw) {
				sum.skipped++
				return nil
			}
			res := parseCorpusFile(p, file, len(raw))
			res.Path = name
			nonMail := allow.match(name)
			sum.add(t, res, nonMail)
			if report != nil {
				if err := report.Encode(res); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walking %s: %v", dir, err)
		}
	}
	for _, e := range allow {
		if !e.used {
			t.Logf("corpus-nonmail.txt entry %q matched no file (corpus not given, or file gone)", e.pattern)
		}
	}
	t.Logf("corpus: %d files, %d ok, %d refused (%d expected non-mail), %d invalid, %d panics",
		sum.files, sum.ok, sum.refused, sum.expected, sum.invalid, sum.panics)
	t.Logf("corpus: %d errors, %d over %s, %d non-mails accepted; %d repository files skipped",
		sum.errors, sum.slow, corpusFileTimeout, sum.acceptedNonMail, sum.skipped)
	if sum.files == 0 {
		t.Errorf("no files found in %s", dirs)
	}
}

// corpusFileTimeout bounds the time one file may take.
const corpusFileTimeout = 10 * time.Second

// corpusResult is what happened to one corpus file.
type corpusResult struct {
	Path   string `json:"path"`
	Result string `json:"result"` // ok, refused, invalid, error, panic, slow
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	Size   int    `json:"size"`
	Millis int64  `json:"ms"`
	// A summary of the intake, for reviewing the results.
	Subject     string         `json:"subject,omitempty"`
	From        string         `json:"from,omitempty"`
	FromName    string         `json:"fromName,omitempty"`
	SentAt      string         `json:"sentAt,omitempty"`
	TextLen     int            `json:"textLen"`
	Text        string         `json:"text,omitempty"` // at most the first 300 bytes
	Attachments []corpusAttach `json:"attachments,omitempty"`
	Replaced    int            `json:"replaced,omitempty"`    // U+FFFD in subject, sender name and text
	InvalidUTF8 []string       `json:"invalidUTF8,omitempty"` // fields of the intake that are not valid UTF-8
	Notes       []string       `json:"notes,omitempty"`
	Signals     []string       `json:"signals,omitempty"`
}

type corpusAttach struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// parseCorpusFile parses, maps and validates one file, within corpusFileTimeout.
func parseCorpusFile(p *mail.Parser, file string, size int) corpusResult {
	done := make(chan corpusResult, 1)
	start := time.Now()
	go func() {
		var res corpusResult
		defer func() {
			if v := recover(); v != nil {
				res.Result, res.Detail = "panic", fmt.Sprintf("%v\n%s", v, debug.Stack())
			}
			done <- res
		}()
		in, err := p.Parse(context.Background(), fileItem(file))
		if err != nil {
			if ingest.IsPermanent(err) {
				res.Result, res.Reason, res.Detail = "refused", ingest.ReasonOf(err), err.Error()
			} else {
				res.Result, res.Detail = "error", err.Error()
			}
			return
		}
		res.Subject, res.From, res.FromName, res.TextLen = in.Subject, in.Sender.Address, in.Sender.Name, len(in.Text)
		if !in.SentAt.IsZero() {
			res.SentAt = in.SentAt.Format(time.RFC3339)
		}
		res.Text = in.Text
		if len(res.Text) > 300 {
			cut := 300
			for cut > 0 && !utf8.RuneStart(res.Text[cut]) {
				cut--
			}
			res.Text = res.Text[:cut]
		}
		for _, a := range in.Attachments {
			res.Attachments = append(res.Attachments, corpusAttach{a.Filename, a.ContentType, a.Size})
		}
		res.Notes, res.Signals = in.Notes, in.Signals
		res.Replaced = strings.Count(in.Subject+in.Sender.Name+in.Text, "\uFFFD")
		for _, f := range []struct{ name, v string }{{"subject", in.Subject}, {"sender", in.Sender.Name}, {"text", in.Text}} {
			if !utf8.ValidString(f.v) {
				res.InvalidUTF8 = append(res.InvalidUTF8, f.name)
			}
		}
		m, err := ingest.Map(in, testOptions())
		if err != nil {
			res.Result, res.Reason, res.Detail = "invalid", ingest.ReasonOf(err), "Map: "+err.Error()
			return
		}
		if err := ingesttest.ValidateRegistration(&m.Registration); err != nil {
			res.Result, res.Detail = "invalid", err.Error()
			return
		}
		res.Result = "ok"
	}()
	var res corpusResult
	select {
	case res = <-done:
	case <-time.After(corpusFileTimeout):
		// The goroutine is left running; the test fails anyway.
		res = corpusResult{Result: "slow", Detail: fmt.Sprintf("still parsing after %s", corpusFileTimeout)}
	}
	res.Size = size
	res.Millis = time.Since(start).Milliseconds()
	return res
}

type corpusSummary struct {
	files, ok, refused, expected, invalid, panics, errors, slow, acceptedNonMail, skipped int
}

func (s *corpusSummary) add(t *testing.T, res corpusResult, nonMail *nonMailEntry) {
	t.Helper()
	s.files++
	switch res.Result {
	case "ok":
		s.ok++
		if len(res.InvalidUTF8) > 0 {
			t.Logf("%s: accepted, but %s not valid UTF-8", res.Path, strings.Join(res.InvalidUTF8, ", "))
		}
		if nonMail != nil && !nonMail.tolerated {
			s.acceptedNonMail++
			t.Errorf("%s: accepted, but corpus-nonmail.txt lists it as not a mail (%s); remove the entry if it is a mail", res.Path, nonMail.reason)
		}
	case "refused":
		s.refused++
		if nonMail != nil {
			s.expected++
			return
		}
		t.Errorf("%s: refused (%s): %s", res.Path, res.Reason, res.Detail)
	case "invalid":
		s.invalid++
		t.Errorf("%s: registration invalid: %s", res.Path, res.Detail)
	case "error":
		s.errors++
		t.Errorf("%s: temporary error: %s", res.Path, res.Detail)
	case "panic":
		s.panics++
		t.Errorf("%s: panic: %s", res.Path, res.Detail)
	case "slow":
		s.slow++
		t.Errorf("%s: took more than %s", res.Path, corpusFileTimeout)
	}
}

// repoFiles are the names of repository files that are never mails; repoExts the
// extensions of source, data and documentation files. Such a file is skipped unless its
// content starts like a mail (many fixtures are .txt files).
var (
	repoFiles = regexp.MustCompile(`(?i)^(readme|license|licence|copying|authors|changelog|artistic-license)([._-].*)?$|^\.git`)
	repoExts  = map[string]bool{
		".rb": true, ".js": true, ".mjs": true, ".cjs": true, ".ts": true, ".json": true, ".py": true, ".go": true,
		".rs": true, ".php": true, ".java": true, ".cs": true, ".c": true, ".h": true, ".sh": true, ".md": true,
		".xml": true, ".yml": true, ".yaml": true, ".toml": true, ".csv": true, ".txt": true, ".html": true, ".htm": true,
	}
	// headerStart is a header field at the start of a line (obsolete white space before
	// the colon allowed); mailHeader is one of the fields real mails have.
	headerStart = regexp.MustCompile(`^[!-9;-~]+[ \t]*:`)
	mailHeader  = regexp.MustCompile(`(?im)^(from|to|subject|date|message-id|received|mime-version|content-type|return-path|delivered-to)[ \t]*:`)
)

// repoFile reports whether a file is a repository file that is plainly not a mail: a
// README or LICENSE, or a file with a source/data/text extension whose content does not
// start like a mail (a header line, possibly after an mbox "From " line). A .txt file is
// also parsed when it names a mail header field at the start of a line in its first
// 2 KiB (a mail exported with a line of its own above the headers). Files without such a
// name or extension are always parsed, whatever their content.
func repoFile(name string, raw []byte) bool {
	ext := strings.ToLower(filepath.Ext(name))
	if !repoFiles.MatchString(name) && !repoExts[ext] {
		return false
	}
	head := string(raw[:min(len(raw), 2048)])
	first, _, _ := strings.Cut(strings.TrimLeft(head, "\r\n"), "\n")
	if strings.HasPrefix(first, "From ") || headerStart.MatchString(first) {
		return false
	}
	return ext != ".txt" || !mailHeader.MatchString(head)
}

// nonMailEntry is one line of testdata/corpus-nonmail.txt.
type nonMailEntry struct {
	pattern, reason string
	tolerated       bool // accepting the file is not an error
	used            bool
}

type nonMailList []*nonMailEntry

// readNonMailList reads the allow-list of corpus files that are not mails. Each line is
// "<corpus>/<relative path> # <reason>", or "<corpus>/<relative path> #? <reason>" when the
// parser may also accept the file; the path may be a path.Match pattern. Blank lines and
// lines starting with # are comments.
func readNonMailList(file string) (nonMailList, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out nonMailList
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, reason, ok := strings.Cut(line, " # ")
		tolerated := false
		if !ok {
			pat, reason, ok = strings.Cut(line, " #? ")
			tolerated = true
		}
		pat, reason = strings.TrimSpace(pat), strings.TrimSpace(reason)
		if !ok || pat == "" || reason == "" {
			return nil, fmt.Errorf("%s:%d: want \"<corpus>/<path> # <reason>\" or \"<corpus>/<path> #? <reason>\"", file, i+1)
		}
		if _, err := path.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("%s:%d: bad pattern: %w", file, i+1, err)
		}
		out = append(out, &nonMailEntry{pattern: pat, reason: reason, tolerated: tolerated})
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no entries")
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].pattern) > len(out[j].pattern) })
	return out, nil
}

// match returns the entry that lists name, or nil.
func (l nonMailList) match(name string) *nonMailEntry {
	for _, e := range l {
		if ok, _ := path.Match(e.pattern, name); ok {
			e.used = true
			return e
		}
	}
	return nil
}
