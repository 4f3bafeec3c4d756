// Command example is a correct fn-style queue in Go, checked through the mqspec driver kit:
//
//	go build -o /tmp/go-example ./example
//	mqspec check "exec:/tmp/go-example --timeout 1"              # real clock (the default)
//	mqspec check "exec:/tmp/go-example --virtual"                # the kit's virtual clock
//	mqspec check "exec:/tmp/go-example --broken lose-on-timeout --timeout 1"   # exit 1
//
// The queue (queue.go) is a lease design that reads its time from the clock the kit gives
// it, so the same code runs on the real clock or, with --virtual, on virtual time.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	mq "mqspec/driver"
)

// bugs are the broken twins behind --broken, each a bug fn's queues had, and the clause
// mqspec names for it.
var bugs = map[string]string{
	"lose-on-timeout":   "an expired reservation is dropped, not restored (MQ-RESTORE-1, MUST)",
	"restore-to-tail":   "an expired reservation goes back at the tail (MQ-RESTORE-3, SHOULD: fails with --strict)",
	"accept-priority-3": "a task with priority 3 is queued (MQ-TASK-1, MUST)",
}

func main() {
	caps := mq.Capabilities{ReservationTimeout: 60, TimeoutSettable: true}
	mq.TimeoutFlag(flag.CommandLine, &caps)
	tokens := flag.Bool("tokens", false, "issue reservation tokens (_mq_token) that Delete checks")
	virtual := flag.Bool("virtual", false, "run on the kit's virtual clock (declare virtual_time)")
	broken := flag.String("broken", "", "run a broken twin: "+strings.Join(bugNames(), ", "))
	panicOnReserve := flag.Bool("panic-on-reserve", false, "debug: every Reserve panics")
	flag.Parse()
	if _, known := bugs[*broken]; *broken != "" && !known {
		fmt.Fprintf(os.Stderr, "unknown --broken %q; known: %s\n", *broken, strings.Join(bugNames(), ", "))
		os.Exit(2)
	}

	caps.VirtualTime = *virtual
	caps.ReservationTokens = *tokens
	cfg := config{tokens: *tokens, bug: *broken, panicOnReserve: *panicOnReserve}
	name := "go-example"
	if *broken != "" {
		name += "-" + *broken
		fmt.Fprintf(os.Stderr, "%s: broken on purpose: %s\n", name, bugs[*broken])
	}
	mq.Serve(name, func(opts mq.Options) (mq.Queue, error) {
		return newQueue(opts, cfg), nil
	}, caps)
}

func bugNames() []string {
	names := make([]string, 0, len(bugs))
	for name := range bugs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
