// Package memmq stands in for an existing fn MessageQueue: an in-memory queue of *Task, a
// struct shaped like fn's models.Task, with a background ticker that promotes delayed jobs
// and restores expired reservations, the way fn's memory queue works. It knows nothing of
// mqspec: ../main.go checks it through the kit.
package memmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Task is shaped like fn's models.Task: pointers for required numbers, some fields with
// omitempty and some without, a creation date. Marshalled as it is, it adds "app_name": "",
// "image": null and a zero created_at to every task: the kit's FromStruct takes them out.
type Task struct {
	ID        string            `json:"id"`
	Priority  *int32            `json:"priority"`
	Delay     int32             `json:"delay,omitempty"`
	AppName   string            `json:"app_name"`
	Path      string            `json:"path"`
	Image     *string           `json:"image"`
	Payload   string            `json:"payload,omitempty"`
	Timeout   *int32            `json:"timeout,omitempty"`
	Memory    uint64            `json:"memory,omitempty"`
	EnvVars   map[string]string `json:"env_vars,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

type timed struct {
	task *Task
	at   time.Time // when a delayed job is due, or when a reservation ends
}

// MemoryMQ has fn's MessageQueue methods over *Task.
type MemoryMQ struct {
	mu       sync.Mutex
	timeout  time.Duration
	ready    [3][]*Task // FIFO per priority
	delayed  []timed
	reserved []timed
	done     chan struct{}
}

// New starts a queue whose reservations last timeout and whose ticker runs every period.
func New(timeout, period time.Duration) *MemoryMQ {
	mq := &MemoryMQ{timeout: timeout, done: make(chan struct{})}
	go mq.tick(period)
	return mq
}

// Push queues the task, or schedules it when it has a delay.
func (mq *MemoryMQ) Push(_ context.Context, t *Task) (*Task, error) {
	if t.Priority == nil || *t.Priority < 0 || *t.Priority > 2 {
		return nil, errors.New("invalid priority")
	}
	mq.mu.Lock()
	defer mq.mu.Unlock()
	if t.Delay > 0 {
		mq.delayed = append(mq.delayed, timed{t, time.Now().Add(time.Duration(t.Delay) * time.Second)})
	} else {
		mq.ready[*t.Priority] = append(mq.ready[*t.Priority], t)
	}
	return t, nil
}

// Reserve takes the head of the highest priority and starts its timeout; nil when empty.
func (mq *MemoryMQ) Reserve(context.Context) (*Task, error) {
	mq.mu.Lock()
	defer mq.mu.Unlock()
	for p := 2; p >= 0; p-- {
		if len(mq.ready[p]) > 0 {
			t := mq.ready[p][0]
			mq.ready[p] = mq.ready[p][1:]
			mq.reserved = append(mq.reserved, timed{t, time.Now().Add(mq.timeout)})
			return t, nil
		}
	}
	return nil, nil
}

// Delete acknowledges a reservation: an error when the job is queued but not reserved,
// success when it does not exist.
func (mq *MemoryMQ) Delete(_ context.Context, t *Task) error {
	mq.mu.Lock()
	defer mq.mu.Unlock()
	for i, r := range mq.reserved {
		if r.task.ID == t.ID {
			mq.reserved = append(mq.reserved[:i], mq.reserved[i+1:]...)
			return nil
		}
	}
	for _, list := range mq.ready {
		for _, q := range list {
			if q.ID == t.ID {
				return fmt.Errorf("job %s is not reserved", t.ID)
			}
		}
	}
	for _, d := range mq.delayed {
		if d.task.ID == t.ID {
			return fmt.Errorf("job %s is not reserved", t.ID)
		}
	}
	return nil
}

// Close stops the ticker.
func (mq *MemoryMQ) Close() error {
	close(mq.done)
	return nil
}

// tick moves due delayed jobs and expired reservations to the tail of their priority, as
// fn's memory queue does: a restored job loses its place (MQ-RESTORE-3, a SHOULD).
func (mq *MemoryMQ) tick(period time.Duration) {
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		select {
		case <-mq.done:
			return
		case now := <-ticker.C:
			mq.mu.Lock()
			mq.delayed = mq.due(mq.delayed, now)
			mq.reserved = mq.due(mq.reserved, now)
			mq.mu.Unlock()
		}
	}
}

// due queues the entries whose time has come and returns the others.
func (mq *MemoryMQ) due(entries []timed, now time.Time) []timed {
	kept := entries[:0]
	for _, e := range entries {
		if now.Before(e.at) {
			kept = append(kept, e)
			continue
		}
		mq.ready[*e.task.Priority] = append(mq.ready[*e.task.Priority], e.task)
	}
	return kept
}
