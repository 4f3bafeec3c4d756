package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	mq "mqspec/driver"
)

// job is one live job.
type job struct {
	number   int64  // unique per push: the last part of the place in line
	id       string // the task's id
	priority int64
	task     mq.Task
	// readyAt is the job's enqueue instant: its push time plus its delay. With priority and
	// number it is the job's place in line, fixed for good, so that a reservation that
	// expires puts the job back where it was (MQ-RESTORE-3).
	readyAt time.Time
	// visibleAt is when the job can be reserved: readyAt, then each reservation's deadline.
	visibleAt time.Time
	// token is set while a reservation is pending; expire clears it at the deadline.
	token string
}

// ahead says whether j comes out of Reserve before k: higher priority first (MQ-ORDER-1),
// then the earlier enqueue instant, then push order (MQ-ORDER-2).
func (j *job) ahead(k *job) bool {
	if j.priority != k.priority {
		return j.priority > k.priority
	}
	if !j.readyAt.Equal(k.readyAt) {
		return j.readyAt.Before(k.readyAt)
	}
	return j.number < k.number
}

// config is what the command line chose.
type config struct {
	tokens         bool
	bug            string // "" for the correct queue; see bugs in main.go
	panicOnReserve bool
}

// queue is a lease design: every operation first checks the time (expire), so reservations
// end exactly at their deadline and delayed jobs are ready exactly at push time plus delay,
// with no ticker: slack 0. A slice under a mutex, scanned by every Reserve: O(n) is plenty
// for the suite, and easy to read.
type queue struct {
	mu           sync.Mutex
	clock        mq.Clock
	timeout      time.Duration
	cfg          config
	jobs         []*job
	pushes       int64
	reservations int64
}

func newQueue(opts mq.Options, cfg config) *queue {
	return &queue{clock: opts.Clock, timeout: opts.ReservationTimeout, cfg: cfg}
}

// Push validates the task (MQ-TASK-1) and queues it at its place in line.
func (q *queue) Push(_ context.Context, task mq.Task) (mq.Task, error) {
	if err := q.validate(task); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	q.expire(now)
	id, _ := task.ID()
	priority, _ := task.Priority()
	delay, _ := task.Delay()
	readyAt := now.Add(time.Duration(delay) * time.Second)
	q.jobs = append(q.jobs, &job{
		number:    q.pushes,
		id:        id,
		priority:  priority,
		task:      task,
		readyAt:   readyAt,
		visibleAt: readyAt,
	})
	q.pushes++
	return task, nil // the task as queued: the map itself, which the queue never changes
}

// Reserve takes the first ready job and holds it until now + T; (nil, nil) when no job is
// ready (MQ-RESERVE-1).
func (q *queue) Reserve(context.Context) (mq.Task, error) {
	q.mu.Lock()
	defer q.mu.Unlock() // deferred, so the panic below leaves the queue usable
	if q.cfg.panicOnReserve {
		panic("reserve: --panic-on-reserve was given")
	}
	now := q.clock.Now()
	q.expire(now)
	var best *job
	for _, j := range q.jobs {
		if now.Before(j.visibleAt) {
			continue // delayed, or held by a pending reservation
		}
		if best == nil || j.ahead(best) {
			best = j
		}
	}
	if best == nil {
		return nil, nil
	}
	q.reservations++
	best.token = fmt.Sprintf("r%d", q.reservations)
	best.visibleAt = now.Add(q.timeout)
	if !q.cfg.tokens {
		return best.task, nil
	}
	reserved := best.task.Clone() // the stored task stays as pushed
	reserved[mq.TokenKey] = best.token
	return reserved, nil
}

// Delete acknowledges a pending reservation of the task's id (with tokens: the one its token
// names) and removes that job for good.
func (q *queue) Delete(_ context.Context, task mq.Task) error {
	id, ok := task.ID()
	if !ok {
		return fmt.Errorf("delete needs a task with a string id, got %v", task["id"])
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expire(q.clock.Now())
	live := false
	for i, j := range q.jobs {
		if j.id != id {
			continue
		}
		live = true
		// After expire, a job with a token has a pending reservation.
		if j.token == "" {
			continue
		}
		if token, _ := task.Token(); q.cfg.tokens && token != j.token {
			continue
		}
		q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
		return nil // MQ-DELETE-1
	}
	switch {
	case !live:
		return nil // not live: Delete is idempotent (MQ-DELETE-3)
	case q.cfg.tokens:
		return fmt.Errorf("job %q is not reserved by this token", id) // MQ-DELETE-5
	default:
		return fmt.Errorf("job %q is not reserved", id) // MQ-DELETE-2
	}
}

// expire ends every reservation whose deadline has come: the job is ready again at its old
// place (MQ-RESTORE-1, -2, -3), since its place in line never changed. The broken twins
// break exactly this.
func (q *queue) expire(now time.Time) {
	kept := q.jobs[:0]
	for _, j := range q.jobs {
		if j.token != "" && !now.Before(j.visibleAt) {
			j.token = ""
			switch q.cfg.bug {
			case "lose-on-timeout":
				continue // fn's lost-on-timeout bug: the expired job is dropped
			case "restore-to-tail":
				// fn's restore-to-tail bug: re-queued behind every job pushed so far
				j.readyAt, j.number = j.visibleAt, q.pushes
				q.pushes++
			}
		}
		kept = append(kept, j)
	}
	q.jobs = kept
}

// validate is ValidateTask, except in the accept-priority-3 twin.
func (q *queue) validate(task mq.Task) error {
	if q.cfg.bug == "accept-priority-3" {
		if p, ok := task.Priority(); ok && p == 3 {
			return nil
		}
	}
	return mq.ValidateTask(task)
}
