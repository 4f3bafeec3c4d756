package mqspecdriver

import (
	"flag"
	"strings"
	"testing"
)

func TestValidateTaskRefusesEveryInvalidKindWithItsReason(t *testing.T) {
	cases := map[string]string{ // task -> a word the message must contain
		`{"priority":1}`:                          "id",
		`{"id":"","priority":1}`:                  "id",
		`{"id":5,"priority":1}`:                   "id",
		`{"id":null,"priority":1}`:                "id",
		`{"id":"A"}`:                              "priority",
		`{"id":"A","priority":3}`:                 "priority",
		`{"id":"A","priority":-1}`:                "priority",
		`{"id":"A","priority":1.5}`:               "priority",
		`{"id":"A","priority":"1"}`:               "priority",
		`{"id":"A","priority":true}`:              "priority",
		`{"id":"A","priority":null}`:              "priority",
		`{"id":"A","priority":1,"delay":-1}`:      "delay",
		`{"id":"A","priority":1,"delay":2.5}`:     "delay",
		`{"id":"A","priority":1,"delay":"5"}`:     "delay",
		`{"id":"A","priority":1,"delay":true}`:    "delay",
		`{"id":"A","priority":1,"_mq_token":"x"}`: "_mq_token",
	}
	for text, word := range cases {
		err := ValidateTask(mustTask(t, text))
		if err == nil || !strings.Contains(err.Error(), word) {
			t.Errorf("%s: got %v, want an error naming %s", text, err, word)
		}
	}
}

func TestValidateTaskAcceptsValidTasks(t *testing.T) {
	for _, text := range []string{
		`{"id":"A","priority":0}`,
		`{"id":"A","priority":2,"delay":0}`,
		`{"id":"A","priority":1,"delay":600,"anything":{"x":[null]}}`,
	} {
		if err := ValidateTask(mustTask(t, text)); err != nil {
			t.Errorf("%s: %v", text, err)
		}
	}
}

func TestTimeoutFlag(t *testing.T) {
	caps := Capabilities{TimeoutSettable: true}
	fs := flag.NewFlagSet("driver", flag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	TimeoutFlag(fs, &caps)
	if caps.ReservationTimeout != 60 {
		t.Errorf("default T %v, want 60", caps.ReservationTimeout)
	}
	if err := fs.Parse([]string{"--timeout", "1.5"}); err != nil || caps.ReservationTimeout != 1.5 {
		t.Errorf("--timeout 1.5 gave %v (%v)", caps.ReservationTimeout, err)
	}
	for _, bad := range []string{"0", "-2", "soon", "NaN", "+Inf"} {
		if err := fs.Parse([]string{"-timeout", bad}); err == nil {
			t.Errorf("-timeout %s must be refused", bad)
		}
	}
}

func TestVirtualClockNeverRunsBackwards(t *testing.T) {
	c := NewVirtualClock(10)
	c.Set(5)
	if c.Seconds() != 10 {
		t.Errorf("clock went back to %v", c.Seconds())
	}
	c.Set(12.5)
	if c.Seconds() != 12.5 {
		t.Errorf("clock at %v, want 12.5", c.Seconds())
	}
}
