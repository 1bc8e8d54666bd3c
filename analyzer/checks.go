package analyzer

import (
	"context"
	"errors"
	"slices"
)

// ErrNotChecked is wrapped by the error of a check that lacked what it
// needs (no records of a source, no baseline): RunChecks notes it and goes
// on, and the check is not done, so its open findings stay open.
var ErrNotChecked = errors.New("not checked")

// Check is one named part of an analysis (see audit.Detected.Check).
type Check struct {
	Name string
	Run  func() error
}

// RunChecks runs checks in order, leaving out those named in skip. A
// check whose error wraps ErrNotChecked is not done and its error becomes
// a note ("name: reason"); any other error, or a cancelled ctx, stops the
// run. It returns the checks done and the notes.
func RunChecks(ctx context.Context, checks []Check, skip []string) (done, notes []string, err error) {
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return nil, notes, err
		}
		if slices.Contains(skip, c.Name) {
			continue
		}
		if err := c.Run(); err != nil {
			if errors.Is(err, ErrNotChecked) {
				notes = append(notes, c.Name+": "+err.Error())
				continue
			}
			return nil, notes, err
		}
		done = append(done, c.Name)
	}
	return done, notes, nil
}
