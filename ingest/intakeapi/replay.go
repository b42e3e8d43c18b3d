package intakeapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ReplayWindow is how long a webhook-id answered with a 2xx is remembered: the signature
// tolerance on both sides of the server clock.
const ReplayWindow = 2 * SignatureTolerance

// maxReplayEntries bounds one vendor's replay cache; beyond it the oldest are dropped.
const maxReplayEntries = 100_000

// maxRecordedBody bounds the body remembered for a replay; success bodies are small.
const maxRecordedBody = 64 << 10

// answer is a remembered 2xx answer.
type answer struct {
	status      int
	contentType string
	location    string
	body        []byte
	expires     time.Time
}

// replayCache remembers, per vendor, the 2xx answers to signed requests by webhook-id.
type replayCache struct {
	mu      sync.Mutex
	entries map[string]map[string]*answer // vendor → webhook-id → answer
	order   map[string][]string           // vendor → ids in insertion order
}

func newReplayCache() *replayCache {
	return &replayCache{entries: map[string]map[string]*answer{}, order: map[string][]string{}}
}

func (c *replayCache) get(vendor, id string, now time.Time) (*answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.entries[vendor][id]
	if !ok || !now.Before(a.expires) {
		return nil, false
	}
	return a, true
}

func (c *replayCache) put(vendor, id string, a *answer, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.entries[vendor]
	if m == nil {
		m = map[string]*answer{}
		c.entries[vendor] = m
	}
	// Drop expired (and, beyond the bound, the oldest) entries from the front. An id put
	// twice is listed twice; its map entry is the newer answer.
	ids := c.order[vendor]
	for len(ids) > 0 {
		old := m[ids[0]]
		full := len(ids) >= maxReplayEntries
		if old != nil && now.Before(old.expires) && !full {
			break
		}
		if old == nil || !now.Before(old.expires) || full {
			delete(m, ids[0])
		}
		ids = ids[1:]
	}
	ids = append(ids, id)
	m[id] = a
	c.order[vendor] = ids
}

// write sends a remembered answer again.
func (a *answer) write(w http.ResponseWriter) {
	h := w.Header()
	if a.contentType != "" {
		h.Set("Content-Type", a.contentType)
	}
	if a.location != "" {
		h.Set("Location", a.location)
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}
