package mqspecdriver

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Protocol is the driver protocol version the kit speaks.
const Protocol = 1

// request is one request line, each field left raw until an op reads it, so that a field of
// the wrong type is an error answer naming it, and unknown fields are ignored (the protocol
// lets the harness add optional ones within version 1).
type request map[string]json.RawMessage

// parseRequest reads one request line.
func parseRequest(line []byte) (request, error) {
	var r request
	if err := json.Unmarshal(line, &r); err != nil || r == nil {
		return nil, fmt.Errorf("request is not a JSON object: %s", quote(bytes.TrimSpace(line)))
	}
	return r, nil
}

// seq is the request's seq as sent, to echo it byte for byte; null when it has none (the
// harness always sends one; a person typing requests may not).
func (r request) seq() []byte {
	raw, ok := r["seq"]
	if !ok {
		return []byte("null")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return []byte("null")
	}
	return compact.Bytes()
}

// op is the request's op.
func (r request) op() (string, error) {
	var op string
	raw, ok := r["op"]
	if !ok || json.Unmarshal(raw, &op) != nil {
		return "", fmt.Errorf("request has no op string: %s", quote(raw))
	}
	return op, nil
}

// number reads an optional number field; present is false when it is missing or null.
func (r request) number(key string) (value float64, present bool, err error) {
	raw, ok := r[key]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return 0, false, nil
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		return 0, true, fmt.Errorf("%s must be a number, got %s", key, quote(raw))
	}
	return value, true, nil
}

// task reads the request's task. Anything but a JSON object is refused here, since a Task
// cannot hold it: the harness pushes lists, strings and null too (MQ-TASK-1).
func (r request) task() (Task, error) {
	raw, ok := r["task"]
	if !ok {
		return nil, fmt.Errorf("request has no task")
	}
	return DecodeTask(raw)
}

// okAnswer is {"seq":<seq>,"ok":<result>}. An unencodable result (a NaN a queue made, a
// channel) becomes an error answer, so the framing never breaks.
func okAnswer(seq []byte, result any) []byte {
	body, err := encode(result)
	if err != nil {
		return errorAnswer(seq, fmt.Sprintf("cannot encode the answer as JSON: %v", err))
	}
	return join(seq, `"ok":`, body)
}

// errorAnswer is {"seq":<seq>,"error":{"message":<text>}}.
func errorAnswer(seq []byte, message string) []byte {
	if message == "" {
		message = "error with an empty message"
	}
	text, _ := encode(message) // a Go string always encodes (bad UTF-8 becomes U+FFFD)
	return join(seq, `"error":{"message":`, text, []byte("}"))
}

// join builds {"seq":<seq>,<parts>} as one line.
func join(seq []byte, key string, parts ...[]byte) []byte {
	line := append([]byte(`{"seq":`), seq...)
	line = append(line, ',')
	line = append(line, key...)
	for _, p := range parts {
		line = append(line, p...)
	}
	return append(line, '}')
}

// helloResult is hello's ok result.
type helloResult struct {
	Protocol     int          `json:"protocol"`
	Name         string       `json:"name"`
	Capabilities Capabilities `json:"capabilities"`
}

// taskResult is the ok result of push and reserve; a nil Task is {"task":null}.
type taskResult struct {
	Task Task `json:"task"`
}
