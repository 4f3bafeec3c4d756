package mqspecdriver

import (
	"fmt"
	"math"
	"time"
)

// Capabilities is what the driver declares about its queue in hello (spec/contract.md,
// "Capabilities"); the harness judges the queue with these parameters. Serve declares every
// key explicitly, so the zero value means what the Go zero says: real clock, no tokens, no
// slack. Two zeros take the protocol's defaults instead: ReservationTimeout 0 is 60 s and
// DuplicateIDs "" is "distinct".
type Capabilities struct {
	// ReservationTimeout is T, the seconds a reservation is held.
	ReservationTimeout float64 `json:"reservation_timeout"`
	// TimeoutSettable says that the queue adopts the T that hello asks for. Serve then also
	// accepts a -timeout SECONDS flag.
	TimeoutSettable bool `json:"timeout_settable"`
	// Slack is the seconds by which readiness and restore may be late: 0 for a lease design,
	// one tick period plus a margin for a design with a background ticker.
	Slack float64 `json:"slack"`
	// VirtualTime says that the queue takes every time decision from Options.Clock. The kit
	// then sets that clock from each request's "now", and the suite runs a 60 s timeout
	// without waiting. Leave it false for a queue that reads time.Now() or a ticker of its own.
	VirtualTime bool `json:"virtual_time"`
	// Durable says that jobs survive a restart of the driver process.
	Durable bool `json:"durable"`
	// ReservationTokens says that Reserve puts a string token under TokenKey, which Delete
	// checks.
	ReservationTokens bool `json:"reservation_tokens"`
	// DuplicateIDs is what a Push of a live id does: "reject" or "distinct".
	DuplicateIDs string `json:"duplicate_ids"`
	// MaxJobs is the declared capacity, or nil for none.
	MaxJobs *int `json:"max_jobs"`
}

// withDefaults fills the two zeros that stand for the protocol's defaults, and checks every
// value the way the harness would, so a bad declaration fails at start with a clear message.
func (c Capabilities) withDefaults() (Capabilities, error) {
	if c.ReservationTimeout == 0 {
		c.ReservationTimeout = 60
	}
	if c.DuplicateIDs == "" {
		c.DuplicateIDs = "distinct"
	}
	if !positive(c.ReservationTimeout) {
		return c, fmt.Errorf("reservation_timeout must be a number of seconds > 0, got %v", c.ReservationTimeout)
	}
	if math.IsNaN(c.Slack) || math.IsInf(c.Slack, 0) || c.Slack < 0 {
		return c, fmt.Errorf("slack must be a number of seconds >= 0, got %v", c.Slack)
	}
	if c.DuplicateIDs != "reject" && c.DuplicateIDs != "distinct" {
		return c, fmt.Errorf(`duplicate_ids must be "reject" or "distinct", got %q`, c.DuplicateIDs)
	}
	if c.MaxJobs != nil && *c.MaxJobs < 1 {
		return c, fmt.Errorf("max_jobs must be nil or >= 1, got %d", *c.MaxJobs)
	}
	return c, nil
}

// positive says whether seconds is a usable duration: finite and > 0.
func positive(seconds float64) bool {
	return !math.IsNaN(seconds) && !math.IsInf(seconds, 0) && seconds > 0
}

// Seconds turns protocol seconds into a time.Duration, rounded to the nanosecond.
func Seconds(seconds float64) time.Duration {
	return time.Duration(math.Round(seconds * float64(time.Second)))
}
