// Command fnstyle checks an existing fn-style MessageQueue (memmq) with the kit: the main.go
// of adapters/drivers/go/README.md.
package main

import (
	"time"

	mq "mqspec/driver"
	"mqspec/driver/fnstyle/memmq"
)

const tick = 100 * time.Millisecond // memmq's ticker period

func main() {
	caps := mq.Capabilities{
		ReservationTimeout: 60,
		TimeoutSettable:    true,                      // memmq.New takes T: hello's, or -timeout
		Slack:              (tick + tick/2).Seconds(), // one tick late at most, plus a margin
	}
	mq.Serve("fn-memmq", func(opts mq.Options) (mq.Queue, error) {
		q := mq.Wrap[memmq.Task](memmq.New(opts.ReservationTimeout, tick))
		q.Validate = true    // fn left MQ-TASK-1 to its API layer; the kit checks it here
		q.KeepUnknown = true // memmq.Task has no field for the suite's "extra": carry it beside
		return q, nil
	}, caps)
}
