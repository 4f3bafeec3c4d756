package mqspecdriver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// recorder is a queue that records what the kit gave it, for the tests to inspect.
type recorder struct {
	opts      Options
	closed    bool
	pushed    []Task
	deadlines []time.Time // each call's context deadline
	clockAt   []time.Time // the clock at each call
	ticks     int
	panicOn   string // the op that panics, if any
	reserve   Task   // what Reserve returns
}

func (q *recorder) note(ctx context.Context, op string) {
	d, _ := ctx.Deadline()
	q.deadlines = append(q.deadlines, d)
	q.clockAt = append(q.clockAt, q.opts.Clock.Now())
	if q.panicOn == op {
		panic("boom in " + op)
	}
}

func (q *recorder) Push(ctx context.Context, task Task) (Task, error) {
	q.note(ctx, "push")
	q.pushed = append(q.pushed, task)
	return task, nil
}

func (q *recorder) Reserve(ctx context.Context) (Task, error) {
	q.note(ctx, "reserve")
	return q.reserve, nil
}

func (q *recorder) Delete(ctx context.Context, _ Task) error {
	q.note(ctx, "delete")
	return nil
}

func (q *recorder) Tick(ctx context.Context) error {
	q.note(ctx, "tick")
	q.ticks++
	return nil
}

func (q *recorder) Close() error {
	q.closed = true
	return nil
}

// harness runs a Server over the given request lines and keeps every queue it built.
type harness struct {
	srv    *Server
	queues []*recorder
	log    bytes.Buffer
	// configure, if set, adjusts each new queue before the kit uses it.
	configure func(*recorder)
}

func newHarness(caps Capabilities) *harness {
	h := &harness{}
	h.srv = &Server{
		Name: "test",
		Caps: caps,
		Log:  &h.log,
		NewQueue: func(opts Options) (Queue, error) {
			q := &recorder{opts: opts}
			if h.configure != nil {
				h.configure(q)
			}
			h.queues = append(h.queues, q)
			return q, nil
		},
	}
	return h
}

// run sends lines and returns the answers, checking the framing: exactly one line per
// request, each a JSON object with exactly one of ok and error.
func (h *harness) run(t *testing.T, lines ...string) []map[string]json.RawMessage {
	t.Helper()
	var out bytes.Buffer
	if err := h.srv.Run(strings.NewReader(strings.Join(lines, "\n")+"\n"), &out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var answers []map[string]json.RawMessage
	scanner := bufio.NewScanner(&out)
	scanner.Buffer(nil, 1<<26)
	for scanner.Scan() {
		var a map[string]json.RawMessage
		if err := json.Unmarshal(scanner.Bytes(), &a); err != nil {
			t.Fatalf("stdout line %q is not a JSON object: %v", scanner.Text(), err)
		}
		_, ok := a["ok"]
		_, isErr := a["error"]
		if ok == isErr {
			t.Fatalf("answer %q must have exactly one of ok and error", scanner.Text())
		}
		answers = append(answers, a)
	}
	if len(answers) != len(lines) {
		t.Fatalf("%d answers to %d requests:\n%s", len(answers), len(lines), out.String())
	}
	return answers
}

// errorOf is the message of an error answer, or "" for an ok one.
func errorOf(t *testing.T, a map[string]json.RawMessage) string {
	t.Helper()
	raw, ok := a["error"]
	if !ok {
		return ""
	}
	var e struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("error %s is not {\"message\": <text>}", raw)
	}
	return e.Message
}

// jsonEqual compares two JSON texts as values (key order ignored, numbers by literal).
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	for _, pair := range []struct {
		raw []byte
		v   *any
	}{{a, &x}, {b, &y}} {
		dec := json.NewDecoder(bytes.NewReader(pair.raw))
		dec.UseNumber()
		if err := dec.Decode(pair.v); err != nil {
			t.Fatalf("not JSON: %s: %v", pair.raw, err)
		}
	}
	ja, _ := json.Marshal(x) // Marshal sorts keys: equal values give equal bytes
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}
