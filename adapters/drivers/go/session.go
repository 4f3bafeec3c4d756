package mqspecdriver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"runtime/debug"
	"time"
)

// session is the state of one Run: the capabilities as declared (T may come from hello), the
// current queue and its clock.
type session struct {
	name    string
	factory Factory
	caps    Capabilities
	log     *log.Logger
	budget  time.Duration
	started time.Time // the origin of virtual seconds for a request without "now"

	queue  Queue         // nil until a reset or the first operation
	vclock *VirtualClock // the queue's clock, when caps.VirtualTime
}

// answer runs one request line and returns its answer line.
func (s *session) answer(line []byte) []byte {
	r, err := parseRequest(line)
	if err != nil {
		return errorAnswer([]byte("null"), err.Error())
	}
	op, err := r.op()
	if err != nil {
		return errorAnswer(r.seq(), err.Error())
	}
	result, err := s.call(op, r)
	if err != nil {
		return errorAnswer(r.seq(), err.Error())
	}
	return okAnswer(r.seq(), result)
}

// call runs one op under a deadline and recover(): a panic in the queue (or the kit) is an
// error answer, not a dead driver, so the harness judges it and the run goes on.
func (s *session) call(op string, r request) (result any, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.budget)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			s.log.Printf("panic in %s: %v\n%s", op, p, debug.Stack())
			result, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	switch op {
	case "hello":
		return s.hello(r)
	case "reset":
		return nil, s.reset(r)
	case "push":
		return s.push(ctx, r)
	case "reserve":
		return s.reserve(ctx, r)
	case "delete":
		return nil, s.delete(ctx, r)
	case "tick":
		return nil, s.tick(ctx, r)
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

func (s *session) hello(r request) (any, error) {
	version, present, err := r.number("protocol")
	if err != nil || !present || version != Protocol {
		return nil, fmt.Errorf("this driver speaks protocol %d, not %s", Protocol, quote(r["protocol"]))
	}
	timeout, asked, err := r.number("reservation_timeout")
	switch {
	case err != nil || (asked && !positive(timeout)):
		return nil, fmt.Errorf("reservation_timeout must be a number of seconds > 0, got %s",
			quote(r["reservation_timeout"]))
	case asked && s.caps.TimeoutSettable:
		// T is configuration: it holds for every later reset. A queue built with the old T
		// (an operation before hello) is rebuilt with the new one.
		s.caps.ReservationTimeout = timeout
		s.dropQueue()
		s.log.Printf("reservation timeout %g s, as hello asked", timeout)
	case asked:
		s.log.Printf("hello asked for reservation timeout %g s; keeping %g s (timeout_settable is false)",
			timeout, s.caps.ReservationTimeout)
	}
	return helloResult{Protocol: Protocol, Name: s.name, Capabilities: s.caps}, nil
}

func (s *session) reset(r request) error {
	seconds, err := s.seconds(r)
	if err != nil {
		return err
	}
	s.dropQueue()
	return s.build(true, seconds)
}

func (s *session) push(ctx context.Context, r request) (any, error) {
	task, err := r.task()
	if err != nil {
		return nil, err
	}
	if err := s.ready(r); err != nil {
		return nil, err
	}
	queued, err := s.queue.Push(ctx, task)
	if err != nil {
		return nil, err
	}
	return taskResult{queued}, nil
}

func (s *session) reserve(ctx context.Context, r request) (any, error) {
	if err := s.ready(r); err != nil {
		return nil, err
	}
	task, err := s.queue.Reserve(ctx)
	if err != nil {
		return nil, err
	}
	if len(task) == 0 {
		task = nil // "nothing ready", however the queue said it
	}
	return taskResult{task}, nil
}

func (s *session) delete(ctx context.Context, r request) error {
	task, err := r.task()
	if err != nil {
		return err
	}
	if err := s.ready(r); err != nil {
		return err
	}
	return s.queue.Delete(ctx, task)
}

func (s *session) tick(ctx context.Context, r request) error {
	if err := s.ready(r); err != nil {
		return err
	}
	if t, ok := s.queue.(Ticker); ok {
		return t.Tick(ctx)
	}
	return nil
}

// ready makes sure there is a queue (building one for a driver that was restarted and gets
// an operation before any reset) and sets its clock to the request's time.
func (s *session) ready(r request) error {
	seconds, err := s.seconds(r)
	if err != nil {
		return err
	}
	if s.queue == nil {
		return s.build(false, seconds)
	}
	if s.vclock != nil {
		s.vclock.Set(seconds)
	}
	return nil
}

// seconds is the request's time: its "now", or, for a request without one (the real-time
// profile sends none, even to a virtual-time driver), the real seconds since the driver
// started, so that a queue on the virtual clock then follows the real one.
func (s *session) seconds(r request) (float64, error) {
	now, present, err := r.number("now")
	if err != nil {
		return 0, err
	}
	if !present {
		return time.Since(s.started).Seconds(), nil
	}
	return now, nil
}

// build makes the queue for a test case, with a fresh clock starting at seconds.
func (s *session) build(fresh bool, seconds float64) error {
	opts := Options{
		ReservationTimeout: Seconds(s.caps.ReservationTimeout),
		Clock:              SystemClock{},
		Fresh:              fresh,
		Log:                s.log,
	}
	s.vclock = nil
	if s.caps.VirtualTime {
		s.vclock = NewVirtualClock(seconds)
		opts.Clock = s.vclock
	}
	q, err := s.factory(opts)
	if err != nil {
		return fmt.Errorf("cannot build the queue: %w", err)
	}
	if q == nil {
		return errors.New("cannot build the queue: the factory returned a nil Queue")
	}
	s.queue = q
	return nil
}

// dropQueue closes the current queue, if any. A Close error is logged, not answered: the
// old queue is done with either way, and the new one decides whether the run can go on.
func (s *session) dropQueue() {
	if s.queue == nil {
		return
	}
	q := s.queue
	s.queue, s.vclock = nil, nil
	defer func() {
		if p := recover(); p != nil {
			s.log.Printf("panic closing the queue: %v\n%s", p, debug.Stack())
		}
	}()
	if err := closeQueue(q); err != nil {
		s.log.Printf("closing the queue: %v", err)
	}
}
