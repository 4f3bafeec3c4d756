package mqspecdriver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestFramingOneAnswerPerRequestInOrder(t *testing.T) {
	h := newHarness(Capabilities{})
	answers := h.run(t,
		`{"seq":0,"op":"hello","protocol":1}`,
		`{"seq":1,"op":"reset"}`,
		`{"seq":2,"op":"push","task":{"id":"A","priority":1}}`,
		`{"seq":3,"op":"reserve"}`,
		`{"seq":4,"op":"delete","task":{"id":"A","priority":1}}`,
		`{"seq":5,"op":"tick"}`,
		`{"seq":6,"op":"ping"}`,
	)
	for i, a := range answers {
		if got := string(a["seq"]); got != []string{"0", "1", "2", "3", "4", "5", "6"}[i] {
			t.Errorf("answer %d has seq %s", i, got)
		}
	}
	if msg := errorOf(t, answers[6]); msg != `unknown op "ping"` {
		t.Errorf("unknown op answered %q", msg)
	}
	if string(answers[1]["ok"]) != "null" || string(answers[5]["ok"]) != "null" {
		t.Errorf("reset and tick must answer ok null: %s %s", answers[1]["ok"], answers[5]["ok"])
	}
	if string(answers[3]["ok"]) != `{"task":null}` {
		t.Errorf("a nil Task must be {\"task\":null}, got %s", answers[3]["ok"])
	}
}

func TestHelloDeclaresEveryCapabilityWithDefaults(t *testing.T) {
	h := newHarness(Capabilities{})
	answers := h.run(t, `{"seq":0,"op":"hello","protocol":1}`)
	want := `{"protocol":1,"name":"test","capabilities":{"reservation_timeout":60,` +
		`"timeout_settable":false,"slack":0,"virtual_time":false,"durable":false,` +
		`"reservation_tokens":false,"duplicate_ids":"distinct","max_jobs":null}}`
	if got := string(answers[0]["ok"]); got != want {
		t.Errorf("hello answered\n%s\nwant\n%s", got, want)
	}
}

func TestHelloRefusesAnotherProtocolAndIgnoresUnknownKeys(t *testing.T) {
	h := newHarness(Capabilities{})
	answers := h.run(t,
		`{"seq":0,"op":"hello","protocol":2}`,
		`{"seq":1,"op":"hello","protocol":1,"some_later_key":{"x":1}}`,
	)
	if msg := errorOf(t, answers[0]); !strings.Contains(msg, "speaks protocol 1") {
		t.Errorf("protocol 2 answered %q", msg)
	}
	if msg := errorOf(t, answers[1]); msg != "" {
		t.Errorf("an unknown key must be ignored, got %q", msg)
	}
}

func TestHelloReservationTimeoutIsAdoptedWhenSettable(t *testing.T) {
	h := newHarness(Capabilities{ReservationTimeout: 60, TimeoutSettable: true})
	answers := h.run(t,
		`{"seq":0,"op":"hello","protocol":1,"reservation_timeout":2.5}`,
		`{"seq":1,"op":"reset","now":0}`,
		`{"seq":2,"op":"reset","now":0}`,
	)
	var hello helloResult
	if err := json.Unmarshal(answers[0]["ok"], &hello); err != nil {
		t.Fatal(err)
	}
	if hello.Capabilities.ReservationTimeout != 2.5 {
		t.Errorf("declared T %v, want the 2.5 hello asked for", hello.Capabilities.ReservationTimeout)
	}
	for i, q := range h.queues { // a reset does not undo it
		if q.opts.ReservationTimeout != 2500*time.Millisecond {
			t.Errorf("queue %d built with T %v, want 2.5s", i, q.opts.ReservationTimeout)
		}
	}
}

func TestHelloReservationTimeoutIsIgnoredWhenNotSettable(t *testing.T) {
	h := newHarness(Capabilities{ReservationTimeout: 30})
	answers := h.run(t,
		`{"seq":0,"op":"hello","protocol":1,"reservation_timeout":1}`,
		`{"seq":1,"op":"reset","now":0}`,
	)
	if !bytes.Contains(answers[0]["ok"], []byte(`"reservation_timeout":30`)) {
		t.Errorf("a queue whose T is fixed declares its own: %s", answers[0]["ok"])
	}
	if got := h.queues[0].opts.ReservationTimeout; got != 30*time.Second {
		t.Errorf("queue built with T %v, want 30s", got)
	}
}

func TestHelloRefusesAnUnusableReservationTimeout(t *testing.T) {
	for _, bad := range []string{`0`, `-1`, `"5"`, `true`} {
		h := newHarness(Capabilities{TimeoutSettable: true})
		answers := h.run(t, `{"seq":0,"op":"hello","protocol":1,"reservation_timeout":`+bad+`}`)
		if msg := errorOf(t, answers[0]); !strings.Contains(msg, "reservation_timeout") {
			t.Errorf("reservation_timeout %s answered %q", bad, msg)
		}
	}
}

func TestResetBuildsAFreshQueueAndClosesTheOldOne(t *testing.T) {
	h := newHarness(Capabilities{})
	h.run(t,
		`{"seq":0,"op":"hello","protocol":1}`,
		`{"seq":1,"op":"reset"}`,
		`{"seq":2,"op":"push","task":{"id":"A","priority":1}}`,
		`{"seq":3,"op":"reset"}`,
	)
	if len(h.queues) != 2 {
		t.Fatalf("%d queues built for two resets", len(h.queues))
	}
	if !h.queues[0].closed {
		t.Error("reset did not close the old queue")
	}
	if !h.queues[1].closed {
		t.Error("end of input did not close the last queue")
	}
	if !h.queues[0].opts.Fresh || !h.queues[1].opts.Fresh {
		t.Error("a queue built for a reset must be told it starts empty (Fresh)")
	}
}

// closeNoError has Close() without an error result.
type closeNoError struct {
	recorder
	calls int
}

func (q *closeNoError) Close() { q.calls++ }

func TestResetClosesAQueueWhoseCloseHasNoResult(t *testing.T) {
	var built []*closeNoError
	srv := &Server{Log: &bytes.Buffer{}, NewQueue: func(opts Options) (Queue, error) {
		q := &closeNoError{recorder: recorder{opts: opts}}
		built = append(built, q)
		return q, nil
	}}
	var out bytes.Buffer
	in := `{"seq":0,"op":"reset"}` + "\n" + `{"seq":1,"op":"reset"}` + "\n"
	if err := srv.Run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if len(built) != 2 || built[0].calls != 1 || built[1].calls != 1 {
		t.Errorf("Close() calls: %d queues, want each closed once", len(built))
	}
}

func TestAnOperationBeforeAnyResetOpensTheQueueAsItIs(t *testing.T) {
	h := newHarness(Capabilities{Durable: true})
	h.run(t, `{"seq":0,"op":"hello","protocol":1}`, `{"seq":1,"op":"reserve"}`)
	if len(h.queues) != 1 || h.queues[0].opts.Fresh {
		t.Error("after a restart the queue must be opened as it is (Fresh false)")
	}
}

func TestAPanicIsAnErrorAnswerAndTheDriverGoesOn(t *testing.T) {
	h := newHarness(Capabilities{})
	h.configure = func(q *recorder) { q.panicOn = "reserve" }
	answers := h.run(t,
		`{"seq":0,"op":"hello","protocol":1}`,
		`{"seq":1,"op":"reset"}`,
		`{"seq":2,"op":"reserve"}`,
		`{"seq":3,"op":"push","task":{"id":"A","priority":1}}`,
	)
	if msg := errorOf(t, answers[2]); msg != "panic: boom in reserve" {
		t.Errorf("a panic in Reserve answered %q", msg)
	}
	if msg := errorOf(t, answers[3]); msg != "" {
		t.Errorf("the request after the panic answered an error %q", msg)
	}
	if log := h.log.String(); !strings.Contains(log, "panic in reserve: boom in reserve") ||
		!strings.Contains(log, "goroutine") {
		t.Errorf("the stack must go to stderr, got:\n%s", log)
	}
}

func TestAFactoryThatPanicsOrFailsIsAnErrorAnswer(t *testing.T) {
	srv := &Server{Log: &bytes.Buffer{}, NewQueue: func(Options) (Queue, error) {
		panic("no database")
	}}
	var out bytes.Buffer
	if err := srv.Run(strings.NewReader(`{"seq":0,"op":"reset"}`+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	if want := `{"seq":0,"error":{"message":"panic: no database"}}` + "\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestEveryCallHasADeadlineBeforeTheHarnesss(t *testing.T) {
	t.Setenv(DeadlineEnv, "4")
	h := newHarness(Capabilities{})
	start := time.Now()
	h.run(t, `{"seq":0,"op":"reset"}`, `{"seq":1,"op":"push","task":{"id":"A","priority":1}}`)
	d := h.queues[0].deadlines[0]
	if d.IsZero() {
		t.Fatal("the call's context has no deadline")
	}
	// 4 s less a margin of a tenth: 3.6 s after the call began.
	if left := d.Sub(start); left < 3500*time.Millisecond || left > 3700*time.Millisecond {
		t.Errorf("deadline %v after the start, want about 3.6s", left)
	}
}

func TestTheRealClockIsTheDefault(t *testing.T) {
	h := newHarness(Capabilities{})
	h.run(t, `{"seq":0,"op":"reset","now":1000}`, `{"seq":1,"op":"push","now":2000,"task":{"id":"A","priority":1}}`)
	q := h.queues[0]
	if _, ok := q.opts.Clock.(SystemClock); !ok {
		t.Fatalf("clock is %T, want SystemClock", q.opts.Clock)
	}
	if since := time.Since(q.clockAt[0]); since < 0 || since > time.Minute {
		t.Errorf("the real clock read %v, %v from now", q.clockAt[0], since)
	}
}

func TestVirtualTimeForwardsNowFromEveryRequestAndTick(t *testing.T) {
	h := newHarness(Capabilities{VirtualTime: true})
	h.run(t,
		`{"seq":0,"op":"hello","protocol":1}`,
		`{"seq":1,"op":"reset","now":0}`,
		`{"seq":2,"op":"push","now":5,"task":{"id":"A","priority":1}}`,
		`{"seq":3,"op":"tick","now":7.25}`,
		`{"seq":4,"op":"reserve","now":60}`,
	)
	q := h.queues[0]
	got := []float64{}
	for _, at := range q.clockAt {
		got = append(got, at.Sub(virtualEpoch).Seconds())
	}
	if want := []float64{5, 7.25, 60}; !equalFloats(got, want) {
		t.Errorf("the queue saw times %v, want %v", got, want)
	}
	if q.ticks != 1 {
		t.Errorf("%d ticks, want 1: a Ticker gets every tick", q.ticks)
	}
}

func TestAVirtualClockFollowsTheRealOneWhenRequestsCarryNoNow(t *testing.T) {
	h := newHarness(Capabilities{VirtualTime: true})
	h.run(t, `{"seq":0,"op":"reset"}`, `{"seq":1,"op":"push","task":{"id":"A","priority":1}}`)
	// The real-time profile sends no "now": the clock must read real seconds, not stop at 0.
	if s := h.queues[0].opts.Clock.(*VirtualClock).Seconds(); s <= 0 || s > 60 {
		t.Errorf("virtual clock at %v s without now, want the real seconds since start", s)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNonObjectTasksAreRefusedBeforeTheQueue(t *testing.T) {
	h := newHarness(Capabilities{})
	answers := h.run(t,
		`{"seq":0,"op":"push","task":["id","x"]}`,
		`{"seq":1,"op":"push","task":null}`,
		`{"seq":2,"op":"push","task":7}`,
		`{"seq":3,"op":"delete","task":"x"}`,
		`{"seq":4,"op":"push"}`,
	)
	for i, a := range answers {
		if msg := errorOf(t, a); msg == "" {
			t.Errorf("request %d: a task that is not an object must be an error answer", i)
		}
	}
	if len(h.queues) > 0 && len(h.queues[0].pushed) > 0 {
		t.Error("the queue saw a task that is not an object")
	}
}

func TestTasksRoundTripExactlyLargeAndOdd(t *testing.T) {
	payload := strings.Repeat("é", 512*1024) // a line far beyond bufio.Scanner's 64 KiB
	task := `{"id":"A","priority":1,"big":9007199254740993,"f":7.125046441720807e16,` +
		`"tenth":0.1,"neg":-0.25,"nested":{"k":[1,{"x":null}]},"hot":true,"tag":"<a&b>",` +
		`"payload":"` + payload + `"}`
	h := newHarness(Capabilities{})
	answers := h.run(t, `{"seq":0,"op":"push","task":`+task+`}`)
	var got struct {
		Task json.RawMessage `json:"task"`
	}
	if err := json.Unmarshal(answers[0]["ok"], &got); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got.Task, []byte(task)) {
		t.Errorf("the task did not round-trip: %.300s", got.Task)
	}
	if !bytes.Contains(got.Task, []byte(`"big":9007199254740993`)) || !bytes.Contains(got.Task, []byte(`"f":7.125046441720807e16`)) {
		t.Errorf("numbers must come back as their literals: %.200s", got.Task)
	}
}

func TestALineThatIsNotJSONIsAnErrorAnswerAndServingGoesOn(t *testing.T) {
	h := newHarness(Capabilities{})
	answers := h.run(t, `not json`, `{"seq":1,"op":"reset"}`)
	if string(answers[0]["seq"]) != "null" || errorOf(t, answers[0]) == "" {
		t.Errorf("garbage answered %v", answers[0])
	}
	if errorOf(t, answers[1]) != "" {
		t.Error("the next request must be served")
	}
}

func TestBadCapabilitiesStopBeforeServing(t *testing.T) {
	zero := 0
	for _, caps := range []Capabilities{
		{ReservationTimeout: -1},
		{Slack: -1},
		{DuplicateIDs: "overwrite"},
		{MaxJobs: &zero},
	} {
		srv := &Server{Caps: caps, NewQueue: func(Options) (Queue, error) { return &recorder{}, nil }}
		err := srv.Run(strings.NewReader(""), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "bad capabilities") {
			t.Errorf("%+v: Run returned %v", caps, err)
		}
	}
}

func TestCallBudgetLeavesAMargin(t *testing.T) {
	noLog := func(string, ...any) {}
	t.Setenv(DeadlineEnv, "")
	if got := callBudget(noLog); got != 9500*time.Millisecond {
		t.Errorf("default budget %v, want 9.5s", got)
	}
	t.Setenv(DeadlineEnv, "1")
	if got := callBudget(noLog); got != 900*time.Millisecond {
		t.Errorf("budget for 1 s %v, want 0.9s", got)
	}
	t.Setenv(DeadlineEnv, "soon")
	if got := callBudget(noLog); got != 9500*time.Millisecond {
		t.Errorf("a bad value must fall back to the default, got %v", got)
	}
}

// Compile-time checks: the test doubles are what the kit looks for.
var (
	_ Queue  = (*recorder)(nil)
	_ Ticker = (*recorder)(nil)
)
