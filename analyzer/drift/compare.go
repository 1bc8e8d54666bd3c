package drift

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/baseline"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/state"
)

// Comparison is what changed between two points: the states' differences
// and each module's velocity over the period. It is read from the stored
// records only (what the diff command shows).
type Comparison struct {
	// From and To say what was compared.
	From, To string
	// Since and Until bound the period the velocity is measured over.
	Since, Until time.Time
	Diff         *state.Diff
	Velocity     []Velocity
}

// CompareTimes compares the states the trail recorded at from and at to.
func CompareTimes(ctx context.Context, tr audit.Reader, from, to time.Time, o state.Options) (*Comparison, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("from (%s) must be before to (%s)", audit.FormatTime(from), audit.FormatTime(to))
	}
	states, err := state.AtEach(ctx, tr, []time.Time{from, to})
	if err != nil {
		return nil, err
	}
	c := &Comparison{From: "the trail at " + audit.FormatTime(from), To: "the trail at " + audit.FormatTime(to), Since: from, Until: to,
		Diff: state.Compare(states[0], states[1], o)}
	return c, c.velocity(ctx, tr)
}

// CompareBaseline compares a verified baseline with the state the trail
// holds now.
func CompareBaseline(ctx context.Context, tr audit.Reader, b *baseline.Baseline, now time.Time, o state.Options) (*Comparison, error) {
	cur, err := state.At(ctx, tr, time.Time{})
	if err != nil {
		return nil, err
	}
	if o.Config == nil {
		o.Config = b.ConfigPatterns
	}
	c := &Comparison{From: fmt.Sprintf("the baseline of %s (tree size %d)", audit.FormatTime(b.Created), b.Trail.Size),
		To: "the trail now", Since: b.Created.Truncate(time.Second), Until: now, Diff: state.Compare(b.State, cur, o)}
	return c, c.velocity(ctx, tr)
}

func (c *Comparison) velocity(ctx context.Context, tr audit.Reader) error {
	layout, err := module.ReadLayout(ctx, tr)
	if err != nil {
		return err
	}
	c.Velocity, err = Velocities(ctx, tr, layout, c.Since, c.Until)
	return err
}

// maxRows bounds the rows of the list of changes.
const maxRows = 5000

// Report is the comparison as a report part: headline figures, the
// changes per kind and the velocity per module; with list, every change.
func (c *Comparison) Report(list bool) ([]report.Item, []report.Section) {
	counts := c.Diff.Counts()
	added, removed, changed := 0, 0, 0
	for _, ch := range c.Diff.Changes {
		switch {
		case ch.Added():
			added++
		case ch.Removed():
			removed++
		default:
			changed++
		}
	}
	summary := []report.Item{
		{Label: "From", Value: c.From},
		{Label: "To", Value: c.To},
		{Label: "Changes", Value: fmt.Sprintf("%d (%d added, %d removed, %d changed)", len(c.Diff.Changes), added, removed, changed)},
		{Label: "Files", Value: fmt.Sprintf("%d then, %d now", len(c.Diff.From.Files), len(c.Diff.To.Files))},
		{Label: "Dependencies", Value: fmt.Sprintf("%d then, %d now", len(c.Diff.From.Dependencies), len(c.Diff.To.Dependencies))},
		{Label: "Services", Value: fmt.Sprintf("%d then, %d now", len(c.Diff.From.Services), len(c.Diff.To.Services))},
	}
	kinds := report.Section{Title: "Drift by kind", Columns: []string{"Kind", "Changes"}}
	chart := &report.Chart{Kind: report.ChartBar, Unit: "changes"}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		kinds.Rows = append(kinds.Rows, []string{k, strconv.Itoa(counts[k])})
		chart.Labels = append(chart.Labels, k)
		chart.Values = append(chart.Values, float64(counts[k]))
	}
	if len(counts) == 0 {
		kinds.Text = "Nothing drifted: the two states are the same."
	} else {
		kinds.Chart = chart
	}
	sections := []report.Section{kinds}
	if list {
		sec := report.Section{Title: "Drift", Columns: []string{"Kind", "Target", "Was", "Is", "Change"}}
		for i, ch := range c.Diff.Changes {
			if i == maxRows {
				sec.Text = fmt.Sprintf("The first %d of %s.", maxRows, plural.Count(len(c.Diff.Changes), "change"))
				break
			}
			sec.Rows = append(sec.Rows, []string{ch.Kind, ch.Target, ch.Old, ch.New, ch.Describe()})
		}
		if len(c.Diff.Changes) == 0 {
			sec.Text = "No change."
		}
		sections = append(sections, sec)
	}
	vel := report.Section{Title: "Change velocity",
		Text: fmt.Sprintf("Lines changed per module in the git history from %s to %s, and the weekly average of the three periods of the same length before.",
			c.Since.UTC().Format("2006-01-02 15:04"), c.Until.UTC().Format("2006-01-02 15:04")),
		Columns: []string{"Module", "Lines changed", "File changes", "Per week", "Per week before"}}
	vs := slices.Clone(c.Velocity)
	slices.SortFunc(vs, func(a, b Velocity) int { return cmp.Or(cmp.Compare(b.Lines, a.Lines), cmp.Compare(a.Module, b.Module)) })
	for _, v := range vs {
		vel.Rows = append(vel.Rows, []string{v.Module, strconv.FormatInt(v.Lines, 10), strconv.Itoa(v.FileChanges),
			strconv.FormatFloat(v.PerWeek, 'f', -1, 64), strconv.FormatFloat(v.Before, 'f', -1, 64)})
	}
	if len(vs) == 0 {
		vel.Text += " No commit in the period."
	}
	return summary, append(sections, vel)
}
