package mqspecdriver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fnTask has the shape of fn's models.Task (go-swagger style): pointers for required
// numbers, some fields with omitempty and some without, a date, a map.
type fnTask struct {
	ID        string            `json:"id"`
	Priority  *int32            `json:"priority"`
	Delay     int32             `json:"delay,omitempty"`
	Image     *string           `json:"image"`
	AppName   string            `json:"app_name"`
	Path      string            `json:"path"`
	Payload   string            `json:"payload,omitempty"`
	Timeout   *int32            `json:"timeout,omitempty"`
	Memory    uint64            `json:"memory,omitempty"`
	EnvVars   map[string]string `json:"env_vars,omitempty"`
	Hot       bool              `json:"hot"`
	CreatedAt time.Time         `json:"created_at"`
	Big       int64             `json:"big,omitempty"`
}

func mustTask(t *testing.T, text string) Task {
	t.Helper()
	task, err := DecodeTask([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// The trap: json.Marshal of the struct adds a zero value for every field the caller did not
// send, so the task that comes back is not the task pushed (MQ-PUSH-1, MQ-TASK-2).
func TestZeroValueTrapAndItsFix(t *testing.T) {
	sent := `{"id":"A","priority":1,"image":"fnproject/hello","memory":256}`
	var stored fnTask
	if err := ToStruct(mustTask(t, sent), &stored); err != nil {
		t.Fatal(err)
	}

	naive := mustJSON(t, stored)
	for _, added := range []string{`"app_name":""`, `"path":""`, `"hot":false`, `"created_at":"0001-01-01T00:00:00Z"`} {
		if !strings.Contains(string(naive), added) {
			t.Errorf("expected the trap: json.Marshal adds %s, got %s", added, naive)
		}
	}
	if jsonEqual(t, naive, []byte(sent)) {
		t.Fatal("json.Marshal of the struct should not equal the task sent (that is the trap)")
	}

	fixed, err := FromStruct(&stored, mustTask(t, sent))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, fixed); !jsonEqual(t, got, []byte(sent)) {
		t.Errorf("FromStruct gave %s, want %s", got, sent)
	}
}

func TestZeroValuesTheCallerSentStay(t *testing.T) {
	// "delay":0 and "payload":"" are hidden by omitempty; "app_name":"" and "hot":false are
	// written by the struct: all four were sent, so all four come back, in both modes.
	sent := `{"id":"A","priority":0,"delay":0,"payload":"","app_name":"","hot":false,"env_vars":{}}`
	var stored fnTask
	if err := ToStruct(mustTask(t, sent), &stored); err != nil {
		t.Fatal(err)
	}
	for name, from := range map[string]func(any, Task) (Task, error){
		"FromStruct": FromStruct, "FromStructStrict": FromStructStrict,
	} {
		got, err := from(&stored, mustTask(t, sent))
		if err != nil {
			t.Fatal(err)
		}
		if raw := mustJSON(t, got); !jsonEqual(t, raw, []byte(sent)) {
			t.Errorf("%s gave %s, want %s", name, raw, sent)
		}
	}
}

func TestUnknownFieldsAreKeptByFromStructAndReportedByStrict(t *testing.T) {
	sent := `{"id":"A","priority":2,"extra":{"nested":[1,2.5,"x"]},"memory":128}`
	var stored fnTask
	if err := ToStruct(mustTask(t, sent), &stored); err != nil {
		t.Fatal(err)
	}
	kept, _ := FromStruct(&stored, mustTask(t, sent))
	if raw := mustJSON(t, kept); !jsonEqual(t, raw, []byte(sent)) {
		t.Errorf("FromStruct gave %s, want %s", raw, sent)
	}
	strict, _ := FromStructStrict(&stored, mustTask(t, sent))
	if _, present := strict["extra"]; present {
		t.Errorf("FromStructStrict must not carry a field the struct does not model: %v", strict)
	}
}

func TestWhatTheQueueChangedShows(t *testing.T) {
	sent := mustTask(t, `{"id":"A","priority":1,"memory":256}`)
	var stored fnTask
	if err := ToStruct(sent, &stored); err != nil {
		t.Fatal(err)
	}
	stored.Memory = 128 // fn's #193: memory wrong
	got, _ := FromStruct(&stored, sent)
	if got["memory"] != json.Number("128") {
		t.Errorf("a changed field must show the struct's value, got %v", got["memory"])
	}
}

func TestNumbersMapExactly(t *testing.T) {
	sent := mustTask(t, `{"id":"A","priority":1,"big":9007199254740993,"timeout":30}`)
	var stored fnTask
	if err := ToStruct(sent, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Big != 9007199254740993 {
		t.Errorf("int64 field got %d: numbers went through a float64", stored.Big)
	}
	got, _ := FromStruct(&stored, sent)
	if got["big"] != json.Number("9007199254740993") {
		t.Errorf("big came back as %v", got["big"])
	}
}

func TestToStructNamesTheTypeItCouldNotFill(t *testing.T) {
	var stored fnTask
	err := ToStruct(mustTask(t, `{"id":"A","priority":"high"}`), &stored)
	if err == nil || !strings.Contains(err.Error(), "fnTask") {
		t.Errorf("got %v", err)
	}
}

// fifo is an fn-style MessageQueue over *fnTask: the shape Wrap adapts.
type fifo struct{ tasks []*fnTask }

func (q *fifo) Push(_ context.Context, t *fnTask) (*fnTask, error) {
	q.tasks = append(q.tasks, t)
	return t, nil
}

func (q *fifo) Reserve(context.Context) (*fnTask, error) {
	if len(q.tasks) == 0 {
		return nil, nil
	}
	t := q.tasks[0]
	q.tasks = q.tasks[1:]
	return t, nil
}

func (q *fifo) Delete(context.Context, *fnTask) error { return nil }

func TestWrapMapsAnFnStyleQueue(t *testing.T) {
	sent := `{"id":"A","priority":1,"app_name":"","extra":true}`
	for _, keep := range []bool{false, true} {
		w := Wrap[fnTask](&fifo{})
		w.KeepUnknown = keep
		ctx := context.Background()
		if _, err := w.Push(ctx, mustTask(t, sent)); err != nil {
			t.Fatal(err)
		}
		got, err := w.Reserve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"id":"A","priority":1,"app_name":""}`
		if keep {
			want = sent
		}
		if raw := mustJSON(t, got); !jsonEqual(t, raw, []byte(want)) {
			t.Errorf("KeepUnknown %v: Reserve gave %s, want %s", keep, raw, want)
		}
		if empty, _ := w.Reserve(ctx); empty != nil {
			t.Errorf("an empty queue must give nil, got %v", empty)
		}
	}
}

func TestWrapValidatesOnlyWhenAsked(t *testing.T) {
	w := Wrap[fnTask](&fifo{})
	if _, err := w.Push(context.Background(), mustTask(t, `{"id":"A","priority":3}`)); err != nil {
		t.Errorf("without Validate the inner queue decides: %v", err)
	}
	w.Validate = true
	if _, err := w.Push(context.Background(), mustTask(t, `{"id":"A","priority":3}`)); err == nil {
		t.Error("with Validate priority 3 must be refused")
	}
}

func TestIsZero(t *testing.T) {
	zero := []any{nil, "", false, json.Number("0"), json.Number("0.0"), []any{},
		map[string]any{}, map[string]any{"a": "", "b": json.Number("0")},
		"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"}
	for _, v := range zero {
		if !isZero(v) {
			t.Errorf("%#v should be zero", v)
		}
	}
	for _, v := range []any{"x", true, json.Number("1"), []any{nil}, map[string]any{"a": "x"}, "2017-01-01T00:00:00Z"} {
		if isZero(v) {
			t.Errorf("%#v should not be zero", v)
		}
	}
}
