// Package usererr marks errors with what the person or program that made
// the request can do about them: whether the request itself was wrong (a
// usage error: exit code 2 on the command line, HTTP 400, an MCP tool
// error) and a hint line saying what to do. Library packages that the
// command line, the HTTP API and the MCP server share return these, so that
// each front end presents the same error its own way.
package usererr

import (
	"errors"
	"fmt"
)

// Error is an error with a hint, or a usage error, or both.
type Error struct {
	Err   error
	Hint  string // what to do, one line; may be empty
	Usage bool   // the request was wrong, not the system
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usage marks err as a mistake in the request.
func Usage(err error) error { return &Error{Err: err, Usage: true} }

// Usagef is Usage(fmt.Errorf(format, args...)).
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// WithHint adds a line telling the user what to do.
func WithHint(err error, hint string) error {
	if e, ok := err.(*Error); ok && e.Hint == "" {
		return &Error{Err: e.Err, Hint: hint, Usage: e.Usage}
	}
	return &Error{Err: err, Hint: hint}
}

// HintOf returns the outermost hint of err's chain.
func HintOf(err error) (string, bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ue, ok := e.(*Error); ok && ue.Hint != "" {
			return ue.Hint, true
		}
	}
	return "", false
}

// IsUsage reports whether an error of err's chain is a usage error.
func IsUsage(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ue, ok := e.(*Error); ok && ue.Usage {
			return true
		}
	}
	return false
}
