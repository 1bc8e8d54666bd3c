package retention

import (
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

func TestCutoff(t *testing.T) {
	now := time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		keep string
		want time.Time
	}{
		{"36h", now.Add(-36 * time.Hour)},
		{"90d", time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC)},
		{"2w", time.Date(2025, 3, 17, 12, 0, 0, 0, time.UTC)},
		{"1mo", time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)}, // Feb 31 normalizes, as time.AddDate does
		{"7y", time.Date(2018, 3, 31, 12, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := Policy{Name: "p", Keep: tt.keep}.Cutoff(now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("keep %s: cutoff %v (%v), want %v", tt.keep, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "90", "d", "-1d", "1.5y", "90 days", "1m"} {
		if _, err := (Policy{Name: "p", Keep: bad}).Cutoff(now); err == nil {
			t.Errorf("keep %q accepted", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Policy{Name: "logs", TargetType: "log", Keep: "90d"}
	for name, s := range map[string]Settings{
		"no name":            {Policies: []Policy{{TargetType: "log", Keep: "1d"}}},
		"two of a name":      {Policies: []Policy{ok, ok}},
		"selects everything": {Policies: []Policy{{Name: "all", Keep: "1d"}}},
		"unknown type":       {Policies: []Policy{{Name: "x", TargetType: "database", Keep: "1d"}}},
		"bad period":         {Policies: []Policy{{Name: "x", TargetType: "log", Keep: "soon"}}},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (Settings{Policies: []Policy{ok}}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestKeeps: the longest matching policy wins, the trail's own records and
// records no policy matches are kept, target holds keep expired records.
func TestKeeps(t *testing.T) {
	now := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	s := Settings{Policies: []Policy{
		{Name: "logs", TargetType: "log", Keep: "90d"},
		{Name: "evidence", Source: "compliance_source", Keep: "7y"},
		{Name: "secret", Classification: audit.ClassConfidential, Keep: "30d"},
	}}
	e, err := NewEvaluator(s, []Hold{{ID: "h", Target: "logs/held.log"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(tt audit.TargetType, target, source, class string, age time.Duration) *audit.Record {
		r := audit.New("a", "b", target, tt)
		r.Source, r.Classification, r.Timestamp = source, class, now.Add(-age)
		return r
	}
	day := 24 * time.Hour
	tests := []struct {
		name string
		r    *audit.Record
		keep bool
	}{
		{"recent log", rec(audit.TargetLog, "logs/a.log", "log_source", "", 10*day), true},
		{"old log", rec(audit.TargetLog, "logs/a.log", "log_source", "", 100*day), false},
		{"old log kept as evidence", rec(audit.TargetLog, "logs/a.log", "compliance_source", "", 100*day), true},
		{"old log on hold", rec(audit.TargetLog, "logs/held.log", "log_source", "", 100*day), true},
		{"confidential log of 60 days: the log policy keeps it longer", rec(audit.TargetLog, "logs/a.log", "x", audit.ClassConfidential, 60*day), true},
		{"confidential file of 60 days", rec(audit.TargetFile, "a", "x", audit.ClassConfidential, 60*day), false},
		{"no policy", rec(audit.TargetGit, "repo", "git_source", "", 5000*day), true},
		{"a retention record", func() *audit.Record {
			r := rec(audit.TargetLog, "o", audit.SourceTrail, "", 1000*day)
			r.Action = audit.ActionRetentionApplied
			return r
		}(), true},
	}
	for _, tt := range tests {
		if got := e.Keeps(tt.r); got != tt.keep {
			t.Errorf("%s: Keeps = %v, want %v", tt.name, got, tt.keep)
		}
	}
}
