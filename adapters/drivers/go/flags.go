package mqspecdriver

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// DeadlineEnv is the environment variable in which the harness is told how long a driver
// has to answer one request (seconds); the harness and the kit read the same variable.
const DeadlineEnv = "MQSPEC_DRIVER_DEADLINE"

// DefaultDeadline is the harness's per-request deadline when DeadlineEnv is unset.
const DefaultDeadline = 10 * time.Second

// TimeoutFlag defines -timeout SECONDS on fs, writing into caps.ReservationTimeout (default:
// its current value, or 60). Serve calls it for you when it parses the command line; call it
// yourself before flag.Parse when your main parses its own flags. Go's flag package takes
// both -timeout 1 and --timeout 1.
func TimeoutFlag(fs *flag.FlagSet, caps *Capabilities) {
	if caps.ReservationTimeout == 0 {
		caps.ReservationTimeout = 60
	}
	fs.Var((*secondsFlag)(&caps.ReservationTimeout), "timeout",
		"reservation timeout T in `seconds` (hello's reservation_timeout overrides it)")
}

// secondsFlag is a flag.Value for a number of seconds > 0.
type secondsFlag float64

func (s *secondsFlag) String() string { return strconv.FormatFloat(float64(*s), 'g', -1, 64) }

func (s *secondsFlag) Set(text string) error {
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || !positive(v) {
		return fmt.Errorf("want a number of seconds > 0, got %q", text)
	}
	*s = secondsFlag(v)
	return nil
}

// callBudget is how long each call's context lives: the harness's deadline less a margin,
// so that a queue that honours its context answers (with an error) before the harness gives
// up on the driver and kills it. A bad DeadlineEnv is the harness's problem to report; the
// kit then uses the default.
func callBudget(logf func(string, ...any)) time.Duration {
	deadline := DefaultDeadline
	if text := strings.TrimSpace(os.Getenv(DeadlineEnv)); text != "" {
		if v, err := strconv.ParseFloat(text, 64); err == nil && positive(v) {
			deadline = Seconds(v)
		} else {
			logf("ignoring %s=%q: not a number of seconds > 0", DeadlineEnv, text)
		}
	}
	margin := deadline / 10
	if margin > 500*time.Millisecond {
		margin = 500 * time.Millisecond
	}
	return deadline - margin
}
