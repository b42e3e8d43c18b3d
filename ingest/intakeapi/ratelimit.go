package intakeapi

import (
	"math"
	"sync"
	"time"
)

// bucket is one vendor's token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate  float64
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	if rate <= 0 {
		rate = 10
	}
	if burst < 1 {
		burst = 20
	}
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take takes one token at now. When none is left it returns false and the whole seconds
// (at least 1) until one will be.
func (b *bucket) take(now time.Time) (bool, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := math.Ceil((1 - b.tokens) / b.rate)
	if wait < 1 || math.IsNaN(wait) {
		wait = 1
	}
	if wait > 86400 {
		wait = 86400
	}
	return false, int(wait)
}
