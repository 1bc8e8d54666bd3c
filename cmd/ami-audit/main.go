// Command ami-audit builds and checks a tamper-evident audit trail of a
// repository, its services and its logs. Run "ami-audit help" for the
// commands.
//
// Exit codes, which scripts may rely on:
//
//	0  success
//	1  operational error (a file, store or server could not be used)
//	2  usage error (unknown command or flag, bad flag value, bad input record)
//	3  verification failed (the trail, a signature, a checkpoint or a proof did not check)
//	4  a CI gate tripped: findings or violations reached the --fail-on severity
//	   (shared by every command with --fail-on: quality, security, …)
//	9–15  with --exit-code (diff, repo --baseline), something drifted, in the
//	   style of AIDE: 8 plus 1 if something was added, 2 if something was
//	   removed, 4 if something changed
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store/all"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitVerifyFails = 3
	exitGate        = 4
	// exitDrift plus AIDE's bits (1 added, 2 removed, 4 changed) is the
	// exit of --exit-code when something drifted: 9 to 15, clear of the
	// codes above.
	exitDrift = 8
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code. Tests call it
// directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(all.Registry(), stdin, stdout, stderr)
	defer app.close()
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	app.finishNewTrail(err)
	if err == nil {
		return exitOK
	}
	return app.report(err)
}

// usageError marks a mistake in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// verifyError marks a verification that ran and failed.
type verifyError struct{ err error }

func (e verifyError) Error() string { return e.err.Error() }
func (e verifyError) Unwrap() error { return e.err }

// gateError marks a CI gate that tripped: a collection that worked and
// found violations (or findings) at or above the --fail-on severity.
type gateError struct{ err error }

func (e gateError) Error() string { return e.err.Error() }
func (e gateError) Unwrap() error { return e.err }

// hintError carries a line telling the user what to do.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return hintError{err, hint} }

// report prints err and returns its exit code.
func (a *App) report(err error) int {
	fmt.Fprintf(a.stderr, "ami-audit: %v\n", err)
	var h hintError
	switch {
	case errors.As(err, &h):
		fmt.Fprintf(a.stderr, "hint: %s\n", h.hint)
	case hasHint(err):
		hint, _ := usererr.HintOf(err)
		fmt.Fprintf(a.stderr, "hint: %s\n", hint)
	case errors.Is(err, syscall.ENOSPC):
		fmt.Fprintf(a.stderr, "hint: free some space on the disk and run the command again\n")
	}
	var u usageError
	var v verifyError
	var g gateError
	var d driftExit
	switch {
	case errors.As(err, &d):
		return exitDrift + d.bits
	case errors.As(err, &g):
		return exitGate
	case errors.As(err, &v), errors.Is(err, ledger.ErrTampered):
		return exitVerifyFails
	case errors.As(err, &u), usererr.IsUsage(err), isCobraUsage(err):
		return exitUsage
	}
	return exitError
}

// hasHint reports whether err carries a hint of the library packages
// (usererr).
func hasHint(err error) bool {
	_, ok := usererr.HintOf(err)
	return ok
}
