package batch

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
)

// MaxTallyTargets bounds the distinct targets a Tally counts exactly. Once
// it is reached, targets not yet seen are counted only in the totals, so
// the top-targets table is exact for trails of up to that many targets and
// a lower bound beyond (the report says so).
const MaxTallyTargets = 100_000

// Tally summarises records without keeping them: how many per action,
// target type and severity, and which targets have the most. It is the
// generic report of a source that has no report of its own. Use Add as
// (part of) Config.OnAppend. A Tally is not safe for concurrent use;
// OnAppend calls are serialized by the collector.
type Tally struct {
	Records     int
	Actions     map[string]int
	TargetTypes map[audit.TargetType]int
	Severities  map[audit.Severity]int
	targets     map[string]int
	overflow    int // records whose target was not counted
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{
		Actions:     map[string]int{},
		TargetTypes: map[audit.TargetType]int{},
		Severities:  map[audit.Severity]int{},
		targets:     map[string]int{},
	}
}

// Add counts recs.
func (t *Tally) Add(recs []*audit.Record) {
	for _, r := range recs {
		t.Records++
		t.Actions[r.Action]++
		t.TargetTypes[r.TargetType]++
		t.Severities[r.Severity]++
		if _, ok := t.targets[r.Target]; ok || len(t.targets) < MaxTallyTargets {
			t.targets[r.Target]++
		} else {
			t.overflow++
		}
	}
}

// TopTargets returns the n targets with the most records, most first (ties
// by name).
func (t *Tally) TopTargets(n int) []Count {
	out := make([]Count, 0, len(t.targets))
	for k, v := range t.targets {
		out = append(out, Count{k, v})
	}
	sortCounts(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Count is a labelled number of records.
type Count struct {
	Label string
	N     int
}

func sortCounts(c []Count) {
	slices.SortFunc(c, func(a, b Count) int {
		if d := cmp.Compare(b.N, a.N); d != 0 {
			return d
		}
		return cmp.Compare(a.Label, b.Label)
	})
}

func counts[K ~string](m map[K]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{string(k), v})
	}
	sortCounts(out)
	return out
}

// Sections returns the tally as report sections whose titles start with
// prefix: records per action (table), per severity (chart, lowest first),
// per target type (table) and the top targets.
func (t *Tally) Sections(prefix string, top int) []report.Section {
	if t.Records == 0 {
		return nil
	}
	table := func(title, col string, cs []Count) report.Section {
		s := report.Section{Title: prefix + title, Columns: []string{col, "records"}}
		for _, c := range cs {
			s.Rows = append(s.Rows, []string{c.Label, strconv.Itoa(c.N)})
		}
		return s
	}
	sev := &report.Chart{Kind: report.ChartBar, Unit: "records"}
	for _, s := range audit.Severities {
		if n := t.Severities[s]; n > 0 {
			sev.Labels = append(sev.Labels, string(s))
			sev.Values = append(sev.Values, float64(n))
		}
	}
	targets := table("top targets", "target", t.TopTargets(top))
	if t.overflow > 0 {
		targets.Text = fmt.Sprintf("Counted over the first %d distinct targets; %s of other targets are not ranked.", MaxTallyTargets, plural.Count(t.overflow, "record"))
	}
	return []report.Section{
		table("records per action", "action", counts(t.Actions)),
		{Title: prefix + "records per severity", Chart: sev},
		table("records per target type", "target type", counts(t.TargetTypes)),
		targets,
	}
}
