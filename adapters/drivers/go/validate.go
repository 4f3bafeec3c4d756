package mqspecdriver

import (
	"encoding/json"
	"fmt"
)

// ValidateTask says what makes task invalid under MQ-TASK-1, or returns nil for a valid task.
//
// A valid task has a non-empty string id, an integer priority of 0, 1 or 2, an optional
// integer delay >= 0, and no TokenKey; every other field is opaque. Push must refuse an
// invalid task with an error that names the problem and queue nothing. fn's own queues do
// not check this: call it first in Push (Wrap does with Validate set).
func ValidateTask(task Task) error {
	if task == nil {
		return fmt.Errorf("task is not a JSON object: null")
	}
	id, present := task["id"]
	if s, ok := id.(string); !ok || s == "" {
		return fmt.Errorf("task id must be a non-empty string, got %s", shown(id, present))
	}
	priority, present := task["priority"]
	if p, ok := integer(priority); !ok || p < 0 || p > 2 {
		return fmt.Errorf("task priority must be 0, 1 or 2, got %s", shown(priority, present))
	}
	if delay, present := task["delay"]; present {
		if d, ok := integer(delay); !ok || d < 0 {
			return fmt.Errorf("task delay must be an integer >= 0, got %s", shown(delay, true))
		}
	}
	if _, present := task[TokenKey]; present {
		return fmt.Errorf("task carries the reserved key %s", TokenKey)
	}
	return nil
}

// shown is a field's value as JSON for a message, or "nothing" when the key is missing.
func shown(v any, present bool) string {
	if !present {
		return "nothing"
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return quote(raw)
}
