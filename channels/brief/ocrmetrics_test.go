package brief

import (
	"sync"
	"testing"
	"time"
)

// pageCounter records OCR page outcomes.
type pageCounter struct {
	mu       sync.Mutex
	outcomes map[string]int
}

func (c *pageCounter) OCRPage(outcome string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcomes == nil {
		c.outcomes = map[string]int{}
	}
	c.outcomes[outcome]++
}

// TestOCRMetrics: every page OCR'd is reported to Metrics with its outcome.
func TestOCRMetrics(t *testing.T) {
	needOCRTools(t)
	c := &pageCounter{}
	x := newTextExtractor(ocrOptions{Metrics: c})
	png := encodePNG(t, renderLetter(t, testLetters[0]), 300)
	extractFile(t, x, writeScan(t, t.TempDir(), "scan.png", png))
	if c.outcomes["ok"] != 1 || len(c.outcomes) != 1 {
		t.Errorf("OCR page outcomes = %v, want one ok", c.outcomes)
	}
}
