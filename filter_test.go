package audit

import (
	"testing"
	"time"
)

func TestFilterMatch(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	r := &Record{Actor: "alice", Action: "deploy", Target: "svc/api", TargetType: TargetService, Severity: SeverityWarning, Timestamp: at}
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty", Filter{}, true},
		{"action", Filter{Action: "deploy"}, true},
		{"other action", Filter{Action: "delete"}, false},
		{"actor", Filter{Actor: "alice"}, true},
		{"other actor", Filter{Actor: "bob"}, false},
		{"target", Filter{Target: "svc/api"}, true},
		{"other target", Filter{Target: "svc/db"}, false},
		{"target type", Filter{TargetType: TargetService}, true},
		{"other target type", Filter{TargetType: TargetFile}, false},
		{"severity at least lower", Filter{Severity: SeverityInfo}, true},
		{"severity at least equal", Filter{Severity: SeverityWarning}, true},
		{"severity at least higher", Filter{Severity: SeverityError}, false},
		{"since inclusive", Filter{Since: at}, true},
		{"since after", Filter{Since: at.Add(time.Second)}, false},
		{"until exclusive", Filter{Until: at}, false},
		{"until after", Filter{Until: at.Add(time.Second)}, true},
		{"all set", Filter{Action: "deploy", Actor: "alice", Target: "svc/api", TargetType: TargetService, Severity: SeverityWarning, Since: at.Add(-time.Hour), Until: at.Add(time.Hour)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(r); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterLimitAndValidate(t *testing.T) {
	if (Filter{}).EffectiveLimit() != DefaultLimit || (Filter{Limit: -1}).EffectiveLimit() != -1 || (Filter{Limit: 5}).EffectiveLimit() != 5 {
		t.Error("EffectiveLimit wrong")
	}
	now := time.Now()
	for name, f := range map[string]Filter{
		"bad target type": {TargetType: "db"},
		"bad severity":    {Severity: "loud"},
		"empty window":    {Since: now, Until: now},
	} {
		if f.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, f)
		}
	}
}
