package git

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ami-orchestrator/ami-audit/report"
)

func statsCommit(repo, email string, when time.Time, files ...FileChange) *Commit {
	return &Commit{Repo: repo, Hash: "h", AuthorName: email[:1], AuthorEmail: email, AuthorTime: when, CommitTime: when, Files: files, New: true, Signature: "N"}
}

func TestStats(t *testing.T) {
	mon := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC) // a Monday
	s := NewStats()
	s.Add(statsCommit(".", "a@x", mon, FileChange{Path: "a.go", Added: 10}, FileChange{Path: "b.go", Added: 1, Removed: 1}))
	s.Add(statsCommit(".", "b@x", mon.Add(24*time.Hour), FileChange{Path: "a.go", Added: 2, Removed: 5}))
	// A week without commits, then one in a submodule with a rename and a
	// binary file.
	s.Add(statsCommit("lib", "a@x", mon.AddDate(0, 0, 15), FileChange{Path: "n.go", OldPath: "o.go"}, FileChange{Path: "x.bin", Binary: true}))

	if s.Commits != 3 || s.Added != 13 || s.Removed != 6 || s.Renames != 1 || s.Binary != 1 || s.Files() != 4 {
		t.Errorf("totals: %+v, files %d", s, s.Files())
	}
	wantWeeks := []WeekCount{
		{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 2},
		{time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC), 1},
	}
	if diff := cmp.Diff(wantWeeks, s.Weeks()); diff != "" {
		t.Errorf("weeks (-want +got):\n%s", diff)
	}
	hot := s.Hotspots(2)
	wantHot := []FileStats{{Path: "a.go", Commits: 2, Added: 12, Removed: 5, Authors: 2}, {Path: "b.go", Commits: 1, Added: 1, Removed: 1, Authors: 1}}
	if diff := cmp.Diff(wantHot, hot, cmp.AllowUnexported(FileStats{})); diff != "" {
		t.Errorf("hotspots (-want +got):\n%s", diff)
	}
	if f, ok := s.File("lib/n.go"); !ok || f.Commits != 1 {
		t.Errorf("submodule files are keyed by their path from the top: %+v %v", f, ok)
	}
	authors := s.Authors()
	if len(authors) != 2 || authors[0].Email != "a@x" || authors[0].Commits != 2 || authors[0].Added != 11 || authors[0].Removed != 1 {
		t.Errorf("authors: %+v %+v", *authors[0], *authors[1])
	}

	secs := s.Sections()
	titles := []string{}
	for _, sec := range secs {
		titles = append(titles, sec.Title)
	}
	if diff := cmp.Diff([]string{"Authors", "Hotspots", "Commits per week", "Repositories"}, titles); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&report.Chart{Kind: report.ChartBar, Unit: "commits", Labels: []string{"2024-01-01", "2024-01-08", "2024-01-15"}, Values: []float64{2, 0, 1}}, secs[2].Chart); diff != "" {
		t.Errorf("chart (-want +got):\n%s", diff)
	}
}

func TestStatsMonthsOverLongPeriods(t *testing.T) {
	s := NewStats()
	start := time.Date(2020, 1, 15, 0, 0, 0, 0, time.UTC)
	s.Add(statsCommit(".", "a@x", start))
	s.Add(statsCommit(".", "a@x", start.AddDate(3, 0, 0)))
	ch := s.timeChart()
	if len(ch.Labels) != 37 || ch.Labels[0] != "2020-01" || ch.Labels[36] != "2023-01" {
		t.Fatalf("labels %d: %v … %v", len(ch.Labels), ch.Labels[0], ch.Labels[len(ch.Labels)-1])
	}
	var sum float64
	for _, v := range ch.Values {
		sum += v
	}
	if sum != 2 {
		t.Errorf("months count %v commits, want 2", sum)
	}
}
