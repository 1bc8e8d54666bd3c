package batch

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
)

func TestTally(t *testing.T) {
	mk := func(action, target string, tt audit.TargetType, sev audit.Severity) *audit.Record {
		return &audit.Record{Action: action, Target: target, TargetType: tt, Severity: sev}
	}
	tl := NewTally()
	tl.Add([]*audit.Record{
		mk("file_hash", "a.go", audit.TargetFile, audit.SeverityInfo),
		mk("file_hash", "b.go", audit.TargetFile, audit.SeverityInfo),
		mk("file_skipped", "secret", audit.TargetFile, audit.SeverityWarning),
	})
	tl.Add([]*audit.Record{
		mk("git_commit", "a.go", audit.TargetGit, audit.SeverityInfo),
		mk("git_warning", "lib", audit.TargetGit, audit.SeverityError),
	})
	got := tl.Sections("x: ", 2)
	want := []report.Section{
		{Title: "x: records per action", Columns: []string{"action", "records"},
			Rows: [][]string{{"file_hash", "2"}, {"file_skipped", "1"}, {"git_commit", "1"}, {"git_warning", "1"}}},
		{Title: "x: records per severity", Chart: &report.Chart{Kind: report.ChartBar, Unit: "records",
			Labels: []string{"info", "warning", "error"}, Values: []float64{3, 1, 1}}},
		{Title: "x: records per target type", Columns: []string{"target type", "records"},
			Rows: [][]string{{"file", "3"}, {"git", "2"}}},
		{Title: "x: top targets", Columns: []string{"target", "records"},
			Rows: [][]string{{"a.go", "2"}, {"b.go", "1"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	if NewTally().Sections("", 5) != nil {
		t.Error("an empty tally has sections")
	}
}

// Memory is bounded: beyond MaxTallyTargets distinct targets, new targets
// are counted in the totals only, and the report says so.
func TestTallyBounded(t *testing.T) {
	tl := NewTally()
	batch := make([]*audit.Record, 0, 1000)
	for i := range MaxTallyTargets + 500 {
		batch = append(batch, &audit.Record{Action: "a", Target: fmt.Sprint(i), TargetType: audit.TargetFile, Severity: audit.SeverityInfo})
		if len(batch) == cap(batch) {
			tl.Add(batch)
			batch = batch[:0]
		}
	}
	tl.Add(batch)
	tl.Add([]*audit.Record{{Action: "a", Target: "0", TargetType: audit.TargetFile, Severity: audit.SeverityInfo}})
	if len(tl.targets) != MaxTallyTargets || tl.overflow != 500 || tl.Records != MaxTallyTargets+501 {
		t.Errorf("targets %d, overflow %d, records %d", len(tl.targets), tl.overflow, tl.Records)
	}
	if top := tl.TopTargets(1); top[0] != (Count{"0", 2}) {
		t.Errorf("top target %v, want 0 with 2 records", top[0])
	}
	secs := tl.Sections("", 3)
	if txt := secs[len(secs)-1].Text; !strings.Contains(txt, "500 records of other targets") {
		t.Errorf("top targets text %q", txt)
	}
}
