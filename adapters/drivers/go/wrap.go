package mqspecdriver

import (
	"context"
	"encoding/json"
	"sync"
)

// StructQueue is fn's models.MessageQueue over any task struct T: an fn MessageQueue is a
// StructQueue[models.Task] as it is.
type StructQueue[T any] interface {
	Push(context.Context, *T) (*T, error)
	Reserve(context.Context) (*T, error)
	Delete(context.Context, *T) error
}

// Wrapped is a StructQueue seen as a Queue: each task is mapped to T with ToStruct on the way
// in and back with FromStructStrict (or FromStruct, with KeepUnknown) on the way out.
//
// To know which zero-valued fields the caller sent, a Wrapped remembers every task pushed,
// by id; a Reserve answers with the struct the queue returned, completed from the oldest task
// remembered for its id. So Wrap is for queues without reservation tokens, like fn's.
type Wrapped[T any] struct {
	// Inner is the queue under test.
	Inner StructQueue[T]
	// Validate refuses invalid tasks (MQ-TASK-1, ValidateTask) before Inner sees them. fn's
	// queues do not check, so leave it false to see whether yours does.
	Validate bool
	// KeepUnknown carries the fields T does not model beside the queue, so that the suite
	// checks the rest (ordering, reservations, Delete) even though T loses them. With it
	// false, each lost field is reported under MQ-PUSH-1 and MQ-TASK-2.
	KeepUnknown bool

	mu   sync.Mutex
	sent map[string][]Task // the tasks pushed, by id, oldest first
}

// Wrap returns q as a Queue, with Validate and KeepUnknown false: the stored form is checked
// as it is.
func Wrap[T any](q StructQueue[T]) *Wrapped[T] {
	return &Wrapped[T]{Inner: q}
}

// Push maps task to T, pushes it, and maps the answer back.
func (w *Wrapped[T]) Push(ctx context.Context, task Task) (Task, error) {
	if w.Validate {
		if err := ValidateTask(task); err != nil {
			return nil, err
		}
	}
	var t T
	if err := ToStruct(task, &t); err != nil {
		return nil, err
	}
	queued, err := w.Inner.Push(ctx, &t)
	if err != nil {
		return nil, err
	}
	w.remember(task)
	if queued == nil {
		return nil, nil
	}
	return w.fromStruct(queued, task)
}

// Reserve reserves from Inner and maps the task back, completed from the task pushed.
func (w *Wrapped[T]) Reserve(ctx context.Context) (Task, error) {
	reserved, err := w.Inner.Reserve(ctx)
	if err != nil || reserved == nil {
		return nil, err
	}
	return w.fromStruct(reserved, w.lookup(structID(reserved)))
}

// Delete maps task to T and deletes it; a success forgets one remembered task of its id.
func (w *Wrapped[T]) Delete(ctx context.Context, task Task) error {
	var t T
	if err := ToStruct(task, &t); err != nil {
		return err
	}
	if err := w.Inner.Delete(ctx, &t); err != nil {
		return err
	}
	if id, ok := task.ID(); ok {
		w.forget(id)
	}
	return nil
}

// Tick forwards to Inner when it has background work of its own.
func (w *Wrapped[T]) Tick(ctx context.Context) error {
	if t, ok := w.Inner.(Ticker); ok {
		return t.Tick(ctx)
	}
	return nil
}

// Close closes Inner when it has a Close method.
func (w *Wrapped[T]) Close() error {
	switch c := w.Inner.(type) {
	case interface{ Close() error }:
		return c.Close()
	case interface{ Close() }:
		c.Close()
	}
	return nil
}

func (w *Wrapped[T]) fromStruct(v *T, sent Task) (Task, error) {
	if w.KeepUnknown {
		return FromStruct(v, sent)
	}
	return FromStructStrict(v, sent)
}

func (w *Wrapped[T]) remember(task Task) {
	id, _ := task.ID()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent == nil {
		w.sent = map[string][]Task{}
	}
	w.sent[id] = append(w.sent[id], task)
}

func (w *Wrapped[T]) lookup(id string) Task {
	w.mu.Lock()
	defer w.mu.Unlock()
	if tasks := w.sent[id]; len(tasks) > 0 {
		return tasks[0]
	}
	return nil
}

func (w *Wrapped[T]) forget(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if tasks := w.sent[id]; len(tasks) > 1 {
		w.sent[id] = tasks[1:]
	} else {
		delete(w.sent, id)
	}
}

// structID is the "id" of a struct's JSON, or "" when it has none.
func structID(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var fields struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &fields)
	return fields.ID
}
