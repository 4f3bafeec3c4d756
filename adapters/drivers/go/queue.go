package mqspecdriver

import (
	"context"
	"log"
	"time"
)

// Queue is the queue under test: fn's models.MessageQueue with the task as JSON.
//
// The kit calls one method at a time (the protocol sends the next request only after the
// answer to the previous one), so a Queue needs a lock only for its own goroutines, such as
// a background ticker. Every call's context carries a deadline a little before the harness's
// (see Options), so a queue that honours ctx answers with an error instead of being killed.
//
// A returned error is the backend's answer, which the contract judges: a refused Push, a
// Delete of a job that is not reserved. A panic is caught and answered as an error whose
// message starts with "panic: " (the stack goes to stderr); the driver goes on serving, so
// release locks with defer.
type Queue interface {
	// Push queues task and returns it as queued: JSON-equal to task (MQ-PUSH-1). It refuses
	// an invalid task with an error that names the problem (MQ-TASK-1; see ValidateTask).
	Push(ctx context.Context, task Task) (Task, error)

	// Reserve takes the first ready job and holds it for the reservation timeout. It returns
	// (nil, nil) when no job is ready: an empty queue is not an error (MQ-RESERVE-1). An empty
	// non-nil Task also means "nothing ready", since a valid task is never empty.
	Reserve(ctx context.Context) (Task, error)

	// Delete acknowledges the pending reservation of task's id (MQ-DELETE-1). It fails when
	// the job is live but not reserved (MQ-DELETE-2) and succeeds when the id is not live
	// (MQ-DELETE-3). task is what Reserve returned, reservation token included.
	Delete(ctx context.Context, task Task) error
}

// Factory builds a queue for one test case. The kit calls it at every reset, after closing
// the previous queue, and once more when an operation comes before any reset (a driver that
// was restarted). An error answers the request with it, which stops the run: say why.
type Factory func(opts Options) (Queue, error)

// Options is what a Factory gets to build a queue with.
type Options struct {
	// ReservationTimeout is T: from hello's reservation_timeout when the harness asks for one
	// and the capabilities declare TimeoutSettable, else Capabilities.ReservationTimeout (the
	// -timeout flag, when Serve parsed one). A queue MUST hold every reservation for exactly
	// this long: the harness judges it against the T the kit declares.
	ReservationTimeout time.Duration

	// Clock is the time to take every decision from. It is the system clock unless the
	// capabilities declare VirtualTime; then it is a *VirtualClock that the kit sets from
	// each request's "now". A queue that reads only this clock runs on both.
	Clock Clock

	// Fresh is true when the queue is built for a reset: it must start empty, so a durable
	// queue drops what its store holds. It is false when an operation came before any reset
	// (the driver was restarted, as the crash profile does): open the store as it is.
	Fresh bool

	// Log writes to stderr, which the harness keeps and shows when something goes wrong.
	// stdout is the protocol's: never print there.
	Log *log.Logger
}

// Ticker is implemented by a queue with background work due at given times (a ticker design
// restoring expired reservations). The kit calls Tick on every tick request, after setting
// the clock, so on virtual time the work due by "now" is done before the answer. A lease
// design, which checks the time on every operation, does not need it.
type Ticker interface {
	Tick(ctx context.Context) error
}

// closeQueue releases q if it has a Close method, with or without an error result
// (io.Closer or Close()). A durable store is closed before the next one is opened on it.
func closeQueue(q Queue) error {
	switch c := q.(type) {
	case interface{ Close() error }:
		return c.Close()
	case interface{ Close() }:
		c.Close()
	}
	return nil
}
