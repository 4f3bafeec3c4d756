// Package mqspecdriver turns a queue written in Go into an mqspec driver: a program that
// speaks the driver protocol (spec/driver-protocol.md, version 1) on its stdin and stdout,
// so that `mqspec check "exec:./my-driver"` can judge the queue against the fn MessageQueue
// contract (spec/contract.md).
//
// The queue implements Queue, which has the shape of fn's models.MessageQueue with the task
// as JSON (Task). Serve does the rest: the line protocol, one fresh queue per test case, the
// reservation timeout the harness asks for, a deadline on every call, panics turned into
// error answers, and (optionally) a virtual clock.
//
// A queue that stores a Go struct, such as fn's *models.Task, maps it with ToStruct and
// FromStruct, or is wrapped whole with Wrap. README.md beside this file goes from an existing
// MessageQueue to a verdict.
//
// Standard library only, so the kit builds offline.
package mqspecdriver
