package git

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
)

// Report limits: the longest tables a report shows.
const (
	reportAuthors  = 50
	reportHotspots = 25
	reportWeeks    = 104 // beyond this, the chart counts months
)

// Summary returns the headline figures of the commits walked.
func (s *Stats) Summary() []report.Item {
	items := []report.Item{
		{Label: "Commits", Value: strconv.FormatInt(s.Commits, 10)},
		{Label: "New commits recorded", Value: strconv.FormatInt(s.New, 10)},
		{Label: "Authors", Value: strconv.Itoa(len(s.authors.by))},
		{Label: "Lines added", Value: strconv.FormatInt(s.Added, 10)},
		{Label: "Lines removed", Value: strconv.FormatInt(s.Removed, 10)},
		{Label: "Files changed", Value: strconv.Itoa(len(s.files))},
		{Label: "Merges", Value: strconv.FormatInt(s.Merges, 10)},
		{Label: "Renames", Value: strconv.FormatInt(s.Renames, 10)},
		{Label: "Signed commits", Value: strconv.FormatInt(s.Signed, 10)},
	}
	if !s.First.IsZero() {
		items = append(items, report.Item{Label: "Period", Value: s.First.UTC().Format("2006-01-02") + " to " + s.Last.UTC().Format("2006-01-02")})
	}
	if len(s.Repos) > 1 {
		items = append(items, report.Item{Label: "Repositories", Value: strconv.Itoa(len(s.Repos))})
	}
	if s.PointerBumps > 0 {
		items = append(items, report.Item{Label: "Submodule pointer bumps", Value: strconv.FormatInt(s.PointerBumps, 10)})
	}
	return items
}

// Sections returns the report's tables and charts: contributions per
// author, change hotspots, commits over time and, with submodules,
// commits per repository.
func (s *Stats) Sections() []report.Section {
	var out []report.Section
	authors := s.Authors()
	sec := report.Section{
		Title:   "Authors",
		Columns: []string{"Author", "E-mail", "Commits", "Lines added", "Lines removed", "First commit", "Last commit"},
	}
	for i, a := range authors {
		if i == reportAuthors {
			sec.Text = fmt.Sprintf("The %d authors with the most commits of %d.", reportAuthors, len(authors))
			break
		}
		sec.Rows = append(sec.Rows, []string{safeText(a.Name), safeText(a.Email), itoa(a.Commits), itoa(a.Added), itoa(a.Removed), day(a.First), day(a.Last)})
	}
	out = append(out, sec)

	hot := s.Hotspots(reportHotspots)
	sec = report.Section{
		Title:   "Hotspots",
		Text:    "The files changed by the most commits.",
		Columns: []string{"File", "Commits", "Lines added", "Lines removed", "Authors"},
	}
	for _, f := range hot {
		sec.Rows = append(sec.Rows, []string{safeText(f.Path), itoa(f.Commits), itoa(f.Added), itoa(f.Removed), itoa(f.Authors)})
	}
	out = append(out, sec)

	if ch := s.timeChart(); ch != nil {
		title := "Commits per week"
		if len(ch.Labels) > 0 && len(ch.Labels[0]) == len("2006-01") {
			title = "Commits per month"
		}
		out = append(out, report.Section{Title: title, Chart: ch})
	}

	if len(s.Repos) > 1 {
		sec = report.Section{Title: "Repositories", Columns: []string{"Repository", "Commits"}}
		names := make([]string, 0, len(s.Repos))
		for n := range s.Repos {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			sec.Rows = append(sec.Rows, []string{safeText(n), itoa(s.Repos[n])})
		}
		out = append(out, sec)
	}
	return out
}

// timeChart counts commits per week, or per month over long periods.
func (s *Stats) timeChart() *report.Chart {
	weeks := s.Weeks()
	if len(weeks) == 0 {
		return nil
	}
	ch := &report.Chart{Kind: report.ChartBar, Unit: "commits"}
	if len(weeks) <= reportWeeks {
		for _, w := range weeks {
			ch.Labels = append(ch.Labels, w.Week.Format("2006-01-02"))
			ch.Values = append(ch.Values, float64(w.Commits))
		}
		return ch
	}
	months := map[string]int64{}
	for _, w := range weeks {
		// A week counts in the month of its Monday.
		months[w.Week.Format("2006-01")] += w.Commits
	}
	for m := time.Date(s.First.Year(), s.First.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(s.Last); m = m.AddDate(0, 1, 0) {
		k := m.Format("2006-01")
		ch.Labels = append(ch.Labels, k)
		ch.Values = append(ch.Values, float64(months[k]))
	}
	return ch
}

// BlameSections returns a table of lines per author and a chart of line
// ages for one blamed file.
func (b *Blame) Sections() []report.Section {
	name := safeText(b.Path)
	rev := b.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	sec := report.Section{
		Title:   "Blame of " + name,
		Text:    fmt.Sprintf("%s at %s (%s).", plural.Count(b.Lines, "line"), rev, day(b.RevisionTime)),
		Columns: []string{"Author", "E-mail", "Lines", "Share", "Commits"},
	}
	for _, a := range b.Authors {
		sec.Rows = append(sec.Rows, []string{safeText(a.Name), safeText(a.Email), itoa(a.Lines),
			strconv.FormatFloat(share(a.Lines, b.Lines), 'f', 1, 64) + "%", itoa(a.Commits)})
	}
	ages := &report.Chart{Kind: report.ChartBar, Unit: "lines"}
	for _, a := range b.Ages {
		ages.Labels = append(ages.Labels, a.Bucket)
		ages.Values = append(ages.Values, float64(a.Lines))
	}
	return []report.Section{sec, {Title: "Line age of " + name, Text: "Age of each line at the blamed revision.", Chart: ages}}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}
