package mqspecdriver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ToStruct decodes task into v, a pointer to the Go struct your queue stores (such as fn's
// *models.Task), with encoding/json's rules: fields the struct does not model are left out,
// a value of the wrong type is an error. Numbers go through their JSON literal, so an int64
// field gets 9007199254740993 exactly.
func ToStruct(task Task, v any) error {
	raw, err := json.Marshal(task)
	if err != nil {
		return fmt.Errorf("cannot map the task to %T: %v", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // for any-typed fields: keep the literal
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("cannot map the task to %T: %v", v, err)
	}
	return nil
}

// FromStruct encodes v, the struct your queue returned, back into a Task for an answer, as
// close to sent (the task as the caller sent it) as the struct allows:
//
//   - a zero value the caller did not send is dropped. json.Marshal writes every field of a
//     struct: "app_name": "", "created_at": "0001-01-01T00:00:00Z", "image": null. Those
//     are Go's zero values, not data, and a task that comes back with them is not the task
//     pushed (MQ-PUSH-1, MQ-TASK-2). Zero means null, "", false, 0, [], an object whose
//     values are all zero, and a zero time (a string starting 0001-01-01T00:00:00).
//   - a key of sent that v's JSON lacks is taken from sent: a field the struct does not
//     model, or one that omitempty hid.
//   - every other key is v's, so what the queue changed shows. Nested objects follow the
//     same rules.
//
// sent may be nil (then only the zero values are dropped). Keeping the fields the struct does
// not model means your queue does not carry them: sent does. To check that the struct itself
// loses nothing, use FromStructStrict.
func FromStruct(v any, sent Task) (Task, error) {
	return fromStruct(v, sent, true)
}

// FromStructStrict is FromStruct without carrying unknown fields: a key of sent that v's JSON
// lacks comes back only when its sent value is a zero value (Go cannot tell a zero field from
// an absent one, so that is the mapping's loss, not the queue's). A field your struct does not
// model is then missing from the answer, and the suite reports it under MQ-TASK-2: fn's #193,
// where tasks lost their memory setting.
func FromStructStrict(v any, sent Task) (Task, error) {
	return fromStruct(v, sent, false)
}

func fromStruct(v any, sent Task, keepUnknown bool) (Task, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot map %T to a task: %v", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("cannot map %T to a task: its JSON is not an object: %s", v, quote(raw))
	}
	if fields == nil {
		return nil, nil // a nil pointer: no task
	}
	return Task(merge(fields, sent, keepUnknown)), nil
}

// merge applies FromStruct's rules to one object level.
func merge(got map[string]any, sent map[string]any, keepUnknown bool) map[string]any {
	out := make(map[string]any, len(got))
	for k, v := range got {
		was, present := sent[k]
		switch {
		case !present && isZero(v):
			continue // Go's zero value, which the caller never sent
		case present:
			sub, isObject := v.(map[string]any)
			sentSub, sentObject := was.(map[string]any)
			if isObject && sentObject {
				v = merge(sub, sentSub, keepUnknown)
			}
		}
		out[k] = v
	}
	for k, was := range sent {
		if _, done := got[k]; done {
			continue
		}
		if keepUnknown || isZero(was) {
			out[k] = was
		}
	}
	return out
}

// isZero says whether a decoded JSON value is what a Go zero value encodes to.
func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == "" || strings.HasPrefix(x, "0001-01-01T00:00:00")
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, sub := range x {
			if !isZero(sub) {
				return false
			}
		}
		return true
	}
	return false
}
