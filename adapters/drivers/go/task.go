package mqspecdriver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// TokenKey is the task key that carries a reservation token (MQ-TOKEN-1). A pushed task that
// has it is invalid; a queue that declares ReservationTokens puts a string under it in every
// task Reserve returns, and Delete gets it back.
const TokenKey = "_mq_token"

// Task is a task as the harness sends it: a JSON object with every field kept.
//
// Numbers are json.Number (the literal as sent), never float64: a float64 would print
// 9007199254740993 or 0.1 back differently, and the task must come back JSON-equal
// (MQ-TASK-2). Nested objects are Task-like map[string]any values, arrays []any.
type Task map[string]any

// DecodeTask reads one task from JSON, keeping every field and every number's literal. It
// fails on anything but a JSON object (null included), with a message that names what came.
func DecodeTask(raw []byte) (Task, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("task is not a JSON object: %s", quote(trimmed))
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var task Task
	if err := dec.Decode(&task); err != nil {
		return nil, fmt.Errorf("task is not valid JSON: %v", err)
	}
	return task, nil
}

// Clone returns a copy of t whose top-level keys can change without touching t. Nested
// values are shared: a queue never changes them, it only adds or removes keys (TokenKey).
func (t Task) Clone() Task {
	if t == nil {
		return nil
	}
	out := make(Task, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// ID is the task's id and whether it is a string.
func (t Task) ID() (string, bool) {
	id, ok := t["id"].(string)
	return id, ok
}

// Priority is the task's priority and whether it is an integer literal (any integer: see
// ValidateTask for the 0..2 range).
func (t Task) Priority() (int64, bool) {
	return integer(t["priority"])
}

// Delay is the task's delay in seconds (0 when absent) and whether it is an integer literal.
func (t Task) Delay() (int64, bool) {
	v, present := t["delay"]
	if !present {
		return 0, true
	}
	return integer(v)
}

// Token is the reservation token under TokenKey and whether the task has a string there.
func (t Task) Token() (string, bool) {
	token, ok := t[TokenKey].(string)
	return token, ok
}

// integer reads an integer literal. "1.0" and "1e0" are not integers here: the contract
// leaves them to the implementation and the suite never sends them.
func integer(v any) (int64, bool) {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case int:
		return int64(n), true
	case int64:
		return n, true
	default:
		return 0, false // booleans, strings, null, floats a queue made itself
	}
	i, err := strconv.ParseInt(text, 10, 64)
	return i, err == nil
}

// encode writes v as JSON on one line, without escaping <, > and & (they are valid JSON as
// they are, and a log of the answers stays readable).
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// quote shows a JSON value in a message, cut to a readable length.
func quote(raw []byte) string {
	const most = 200
	if len(raw) == 0 {
		return "nothing"
	}
	if len(raw) > most {
		return fmt.Sprintf("%s... (%d bytes)", raw[:most], len(raw))
	}
	return string(raw)
}
