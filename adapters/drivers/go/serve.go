package mqspecdriver

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"
)

// Serve is a driver's whole main: it parses the command line (adding -timeout SECONDS when
// caps.TimeoutSettable), answers the harness on stdin and stdout until end of input, and
// exits 0, or 2 when it cannot go on (bad capabilities, a broken stdin).
//
// name is the driver's name in mqspec's reports. Define your own flags before calling Serve,
// which parses them; or parse the command line yourself first (call TimeoutFlag before
// flag.Parse), and Serve leaves it alone. A positional argument is refused (exit 2): a
// driver's options are flags.
//
// From here on, os.Stdout is stderr: stdout carries only answers, and a stray fmt.Println in
// the queue's code would break the protocol.
func Serve(name string, newQueue Factory, caps Capabilities) {
	if !flag.Parsed() {
		if caps.TimeoutSettable && flag.Lookup("timeout") == nil {
			TimeoutFlag(flag.CommandLine, &caps)
		}
		flag.Parse()
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q\n", name, flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	answers := os.Stdout
	os.Stdout = os.Stderr
	srv := &Server{Name: name, NewQueue: newQueue, Caps: caps, Log: os.Stderr}
	if err := srv.Run(os.Stdin, answers); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// Server answers the protocol on any reader and writer: Serve without the command line and
// the process, for tests and for mains that set up their own I/O.
type Server struct {
	// Name is the driver's name in reports (default "go-driver").
	Name string
	// NewQueue builds the queue for each test case.
	NewQueue Factory
	// Caps is what the driver declares (see Capabilities for the defaults).
	Caps Capabilities
	// Log receives the driver's log lines (default os.Stderr).
	Log io.Writer
	// CallBudget is how long each call's context lives; 0 takes the harness's deadline
	// (DeadlineEnv, else DefaultDeadline) less a margin.
	CallBudget time.Duration
}

// Run answers every request line read from in with one line on out, in order, until end of
// input; then it closes the queue and returns nil. It returns an error only when it cannot go
// on: bad capabilities, or reading or writing failed.
func (srv *Server) Run(in io.Reader, out io.Writer) error {
	s, err := srv.start()
	if err != nil {
		return err
	}
	defer s.dropQueue()
	reader := bufio.NewReaderSize(in, 1<<16)
	for {
		// ReadBytes, not a Scanner: a Scanner stops at 64 KiB, and tasks carry payloads.
		line, readErr := reader.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if err := write(out, s.answer(line)); err != nil {
				return fmt.Errorf("cannot write an answer: %w", err)
			}
		}
		if errors.Is(readErr, io.EOF) {
			s.log.Printf("end of input: exiting")
			return nil
		}
		if readErr != nil {
			return fmt.Errorf("cannot read a request: %w", readErr)
		}
	}
}

// start checks the configuration and makes the state of one run.
func (srv *Server) start() (*session, error) {
	if srv.NewQueue == nil {
		return nil, errors.New("Server.NewQueue is nil: nothing to build a queue with")
	}
	caps, err := srv.Caps.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bad capabilities: %w", err)
	}
	name := srv.Name
	if name == "" {
		name = "go-driver"
	}
	w := srv.Log
	if w == nil {
		w = os.Stderr
	}
	s := &session{
		name:    name,
		factory: srv.NewQueue,
		caps:    caps,
		log:     log.New(w, name+": ", 0),
		started: time.Now(),
	}
	s.budget = srv.CallBudget
	if s.budget <= 0 {
		s.budget = callBudget(s.log.Printf)
	}
	return s, nil
}

// write sends one answer line and flushes it: the harness waits for it.
func write(out io.Writer, answer []byte) error {
	if _, err := out.Write(append(answer, '\n')); err != nil {
		return err
	}
	if f, ok := out.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}
