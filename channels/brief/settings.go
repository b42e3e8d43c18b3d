package brief

import (
	"fmt"
	"runtime"
	"time"
)

// ChannelSettings are the keys of the channels.brief block.
type ChannelSettings struct {
	// OCR bounds the text recognition of one letter.
	OCR OCRSettings `yaml:"ocr"`
}

// OCRSettings are the keys of channels.brief.ocr.
type OCRSettings struct {
	// MaxPages is the most pages read from one scan (default 50); a note says when more
	// were left unread.
	MaxPages int `yaml:"max_pages"`
	// Timeout bounds the text extraction of one letter (default 5m); a letter that takes
	// longer is registered with the text read so far and a note.
	Timeout time.Duration `yaml:"timeout"`
	// Workers is the number of OCR processes run at once for one letter (default: the
	// number of CPUs).
	Workers int `yaml:"workers"`
}

// SourceSettings are the letter-specific keys of a drop-zone source.
type SourceSettings struct {
	// PairTimeout is how long a sidecar waits for its scan, and a scan for a sidecar that
	// names it, counted from the file's modification time (default 24h). Then the half
	// that is there fails with a dead letter and goes to failed/ (missing_scan,
	// missing_sidecar).
	PairTimeout time.Duration `yaml:"pair_timeout"`
}

const (
	defaultMaxPages    = 50
	defaultOCRTimeout  = 5 * time.Minute
	defaultPairTimeout = 24 * time.Hour
)

func (c *ChannelSettings) validate(at string) error {
	if c.OCR.MaxPages < 0 {
		return fmt.Errorf("%s.ocr.max_pages: must not be negative", at)
	}
	if c.OCR.Timeout < 0 {
		return fmt.Errorf("%s.ocr.timeout: must not be negative", at)
	}
	if c.OCR.Workers < 0 {
		return fmt.Errorf("%s.ocr.workers: must not be negative", at)
	}
	return nil
}

func (c *ChannelSettings) defaults() {
	if c.OCR.MaxPages == 0 {
		c.OCR.MaxPages = defaultMaxPages
	}
	if c.OCR.Timeout == 0 {
		c.OCR.Timeout = defaultOCRTimeout
	}
	if c.OCR.Workers == 0 {
		c.OCR.Workers = runtime.NumCPU()
	}
}

func (s *SourceSettings) validate(at string) error {
	if s.PairTimeout < 0 {
		return fmt.Errorf("%s.pair_timeout: must not be negative", at)
	}
	if s.PairTimeout == 0 {
		s.PairTimeout = defaultPairTimeout
	}
	return nil
}
