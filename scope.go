package audit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Scope is an audited operation in progress: Begin it, attach context and
// findings while the work runs, and End it with defer so that one record is
// appended whatever the outcome. It replaces the old @audit_log decorator:
//
//	func Deploy(ctx context.Context, s audit.Appender) (err error) {
//		sc := audit.Begin(ctx, s, "ci", "deploy", "svc/api", audit.TargetService)
//		defer sc.End(&err)
//		sc.Set("version", "1.4")
//		return doDeploy(ctx)
//	}
//
// The record's context gets "outcome" ("success" or "error"), "error" (the
// error text, on failure) and "duration_ms"; a failed operation is recorded
// with severity error unless a higher one was set. A Scope is safe for
// concurrent use by the operation's goroutines.
type Scope struct {
	ctx   context.Context
	app   Appender
	start time.Time

	mu    sync.Mutex
	rec   *Record
	ended bool
}

// Begin starts a scoped audit of one operation.
func Begin(ctx context.Context, app Appender, actor, action, target string, tt TargetType) *Scope {
	r := New(actor, action, target, tt)
	r.Source = "scope"
	r.Context = map[string]any{}
	return &Scope{ctx: ctx, app: app, start: time.Now(), rec: r}
}

// Set attaches a context value.
func (s *Scope) Set(key string, value any) *Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Context[key] = value
	return s
}

// Reason records why the operation was done.
func (s *Scope) Reason(reason string) *Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Reason = reason
	return s
}

// Severity sets the record's severity.
func (s *Scope) Severity(sev Severity) *Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Severity = sev
	return s
}

// Finding attaches a finding.
func (s *Scope) Finding(f Finding) *Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Findings = append(s.rec.Findings, f)
	return s
}

// Violation attaches a violation.
func (s *Scope) Violation(v Violation) *Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Violations = append(s.rec.Violations, v)
	return s
}

// ErrScopeEnded is returned by End when it is called twice.
var ErrScopeEnded = errors.New("audit scope already ended")

// End appends the record with the outcome *errp (nil errp or *errp == nil
// is success). If the append fails and the operation itself succeeded, the
// append error is stored into *errp, so an operation that could not be
// audited does not report success. End returns the append error.
func (s *Scope) End(errp *error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return ErrScopeEnded
	}
	s.ended = true
	r := s.rec
	var opErr error
	if errp != nil {
		opErr = *errp
	}
	r.Context["duration_ms"] = float64(time.Since(s.start).Microseconds()) / 1000
	if opErr != nil {
		r.Context["outcome"] = "error"
		r.Context["error"] = opErr.Error()
		if r.Severity.Rank() < SeverityError.Rank() {
			r.Severity = SeverityError
		}
	} else {
		r.Context["outcome"] = "success"
	}
	r.Normalize()
	err := s.app.Append(context.WithoutCancel(s.ctx), []*Record{r})
	if err != nil && errp != nil && *errp == nil {
		*errp = err
	}
	return err
}

// Record returns the record as it stands (after End: as appended).
func (s *Scope) Record() *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Clone()
}
