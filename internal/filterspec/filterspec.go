// Package filterspec turns a record filter given as text — command-line
// flags, HTTP query parameters, MCP tool arguments — into an audit.Filter,
// with the same names, aliases and date forms everywhere.
package filterspec

import (
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
)

// Spec is a filter as text. User is another name for Actor; Module
// selects the records about a module (target and target type module).
// Since and Until take ISO dates, RFC 3339 times and relative forms ("7
// days ago"). The limit is the caller's to set.
type Spec struct {
	TargetType, Action, Actor, User, Target, Module, Severity, Since, Until string
	Newest                                                                  bool
}

// Filter parses the spec at now. Errors are usage errors naming the
// field as name returns it ("--since" on the command line, "since" in a
// query).
func (s Spec) Filter(now time.Time, name func(string) string) (audit.Filter, error) {
	f := audit.Filter{Action: s.Action, Actor: s.Actor, Target: s.Target, TargetType: audit.TargetType(s.TargetType), Newest: s.Newest}
	if s.User != "" {
		if f.Actor != "" && f.Actor != s.User {
			return f, usererr.Usagef("%s and %s disagree; give one", name("user"), name("actor"))
		}
		f.Actor = s.User
	}
	if s.Module != "" {
		if f.Target != "" && f.Target != s.Module {
			return f, usererr.Usagef("%s and %s disagree; give one", name("module"), name("target"))
		}
		f.Target, f.TargetType = s.Module, audit.TargetModule
	}
	if s.Severity != "" {
		sev, err := audit.ParseSeverity(s.Severity)
		if err != nil {
			return f, usererr.Usagef("%s: %v", name("severity"), err)
		}
		f.Severity = sev
	}
	var err error
	if s.Since != "" {
		if f.Since, err = datespec.Parse(s.Since, now); err != nil {
			return f, usererr.Usagef("%s: %v", name("since"), err)
		}
	}
	if s.Until != "" {
		if f.Until, err = datespec.Parse(s.Until, now); err != nil {
			return f, usererr.Usagef("%s: %v", name("until"), err)
		}
	}
	return f, nil
}
