package mqspecdriver

import (
	"sync"
	"time"
)

// Clock is where a queue reads the time. Taking it from Options.Clock instead of calling
// time.Now() is all a queue needs to run on virtual time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock. time.Now() carries Go's monotonic reading, so Sub, Before
// and After between two of its times ignore wall-clock jumps (NTP, a changed date), as the
// contract's queue clock must ("it never runs backwards").
type SystemClock struct{}

// Now is time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// virtualEpoch is virtual second 0: a fixed, ordinary date, so a queue that checks for the
// zero time.Time or formats dates sees nothing odd.
var virtualEpoch = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)

// VirtualClock is the harness's clock: it moves only when the kit sets it from a request's
// "now" (seconds since the start of the test case). It is safe for concurrent use, so a
// queue's own goroutines may read it too.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtualClock returns a clock set to seconds after virtual second 0.
func NewVirtualClock(seconds float64) *VirtualClock {
	return &VirtualClock{now: virtualEpoch.Add(Seconds(seconds))}
}

// Now is the time last set.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Seconds is the time last set, in seconds since virtual second 0.
func (c *VirtualClock) Seconds() float64 {
	return c.Now().Sub(virtualEpoch).Seconds()
}

// Set moves the clock to seconds. It never moves it back: the contract's queue clock never
// runs backwards, and the harness never sends a smaller "now" within a test case.
func (c *VirtualClock) Set(seconds float64) {
	t := virtualEpoch.Add(Seconds(seconds))
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}
