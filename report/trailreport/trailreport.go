// Package trailreport builds reports from a stored trail: the report of a
// period (what 'ami-audit report' renders, and the served API's report
// tool), and the integrity facts every report opens with.
//
// A period report verifies the whole trail, then reads the records of the
// period once (in sequence order, flat memory): what was recorded (by
// action, source, target type and severity, records per day), the open
// findings of the analyzers, and the compliance assessment of the
// catalogs asked for (package compliance/assess), its evidence and gaps.
package trailreport

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/assess"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Options say what a period report holds.
type Options struct {
	// Since and Until bound the period by record time (zero: open).
	Since, Until time.Time
	// Catalogs are the frameworks assessed (none: no assessment).
	Catalogs []*compliance.Catalog
	// Trusted are the signers' public keys (default: the trail's
	// trusted/ folder).
	Trusted []string
	// Settings tune the checks of the trail itself.
	Settings assess.Settings
	// Now is the time of the report (default time.Now).
	Now time.Time
	// Analyzers are the analyzers whose open findings the report lists
	// (DefaultAnalyzers when nil).
	Analyzers []string
	// Progress is called with the number of records verified.
	Progress func(n uint64)
}

// DefaultAnalyzers are the analyzers of the specification.
var DefaultAnalyzers = []string{"git", "quality", "security", "compliance", "drift"}

// Result is a period report and what it rests on.
type Result struct {
	Report *report.Report
	// Verification is the trail's verification; Facts what the
	// assessment was made with.
	Verification *trail.Report
	Facts        assess.Facts
	// Records are the sequences of the period's records, in order (for
	// an evidence packet): the first and last, and how many.
	First, Last uint64
	Count       uint64
}

// Build makes the report of the period. A trail that does not verify is
// reported (its integrity says where it fails, the assessment shows the
// unverified records); the error is for a trail that could not be read.
func Build(ctx context.Context, tr *trail.Trail, o Options) (*Result, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	gopts := assess.GatherOptions{Trusted: o.Trusted, Now: o.Now, Progress: o.Progress}
	facts, err := assess.KeyFacts(ctx, tr, gopts)
	if err != nil {
		return nil, err
	}
	// The whole trail is verified while the period is read: two passes
	// over the store, side by side.
	type verified struct {
		facts assess.Facts
		rep   *trail.Report
		err   error
	}
	done := make(chan verified, 1)
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		f := facts
		rep, err := assess.Verify(vctx, tr, gopts, &f)
		done <- verified{f, rep, err}
	}()
	res := &Result{}
	t := newTally()
	in := assess.Input{Trail: tr.Store(), Catalogs: o.Catalogs, Since: o.Since, Until: o.Until, Now: o.Now, Facts: facts,
		Settings: o.Settings, Observe: t.add,
		Complete: func(f *assess.Facts) error {
			v := <-done
			if v.err != nil {
				return v.err
			}
			*f = v.facts
			res.Verification, res.Facts = v.rep, v.facts
			return nil
		}}
	as, err := assess.Assess(ctx, in)
	if err != nil {
		cancel()
		return nil, err
	}
	vrep := res.Verification
	res.First, res.Last, res.Count = t.first, t.last, t.n
	r := &report.Report{Title: title(o), Generated: o.Now,
		Integrity: Integrity(tr, vrep, report.Range{From: 0, To: res.Facts.Size}),
		Period:    &report.Period{Since: o.Since.UTC(), Until: o.Until.UTC()}}
	if o.Since.IsZero() {
		r.Period.Since = time.Time{}
	}
	if o.Until.IsZero() {
		r.Period.Until = time.Time{}
	}
	if len(o.Catalogs) > 0 {
		r.Compliance = as
	}
	names := o.Analyzers
	if names == nil {
		names = DefaultAnalyzers
	}
	for _, name := range names {
		open, err := analyzer.OpenSorted(ctx, tr.Store(), name)
		if err != nil {
			return nil, err
		}
		r.Findings = append(r.Findings, open...)
	}
	slices.SortStableFunc(r.Findings, func(a, b *audit.Record) int { return cmp.Compare(b.Severity.Rank(), a.Severity.Rank()) })
	r.Summary = summary(t, as, r, o)
	r.Sections = t.sections(r.Findings)
	res.Report = r
	return res, nil
}

func title(o Options) string {
	t := "Audit trail report"
	switch {
	case !o.Since.IsZero() && !o.Until.IsZero():
		t += fmt.Sprintf(", %s to %s", o.Since.UTC().Format(time.RFC3339), o.Until.UTC().Format(time.RFC3339))
	case !o.Since.IsZero():
		t += ", since " + o.Since.UTC().Format(time.RFC3339)
	case !o.Until.IsZero():
		t += ", until " + o.Until.UTC().Format(time.RFC3339)
	}
	return t
}

// Integrity states what the verification rep established about the range
// r of tr's records.
func Integrity(tr *trail.Trail, rep *trail.Report, r report.Range) *report.Integrity {
	id := tr.Identity()
	in := &report.Integrity{Origin: id.Origin, LogID: id.LogID, Store: tr.Location(), Range: r}
	if pub := tr.PublicKey(); pub != nil {
		in.KeyFingerprint = trail.Fingerprint(pub)
	}
	if rep == nil {
		in.Result = "not verified"
		return in
	}
	if ti := rep.Integrity; ti != nil {
		in.TreeSize, in.Root, in.Signed = ti.Size, ti.Root, ti.Signed
		in.Checkpoint = ti.Checkpoint
		if ti.Checkpoint != "" {
			in.CheckpointSize = ti.Size
		}
		in.VerifiedAt = ti.VerifiedAt
	}
	in.Verified = rep.OK
	var parts []string
	for _, c := range rep.Checks {
		mark := "ok"
		if !c.OK {
			mark = "FAILED"
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", c.Name, mark, c.Detail))
	}
	in.Result = strings.Join(parts, "; ")
	if !rep.OK {
		in.VerifiedAt = time.Now().UTC()
		if f := rep.Failure; f != nil {
			in.Failure = &report.Failure{Sequence: f.Seq, RecordID: f.RecordID, Reason: f.Reason}
		} else {
			in.Failure = &report.Failure{Reason: rep.Error}
		}
		if in.Result == "" {
			in.Result = rep.Error
		}
	}
	return in
}

// HeadIntegrity fills the tree facts of in from the latest stored tree
// head, for a report whose range was verified without the whole trail.
func HeadIntegrity(ctx context.Context, tr *trail.Trail, in *report.Integrity) error {
	head, err := tr.Raw().LatestTreeHead(ctx)
	if err != nil || head == nil {
		return err
	}
	in.TreeSize, in.Root = head.Size, base64.StdEncoding.EncodeToString(head.Root[:])
	if pub := tr.PublicKey(); pub != nil && head.Note != nil {
		if _, err := ledger.OpenHead(*head, tr.Identity().Origin, pub); err == nil {
			in.Checkpoint, in.CheckpointSize, in.Signed = string(head.Note), head.Size, true
		}
	}
	return nil
}

// tally counts the records of the period.
type tally struct {
	n             uint64
	first, last   uint64
	from, to      time.Time
	byAction      map[string]uint64
	bySource      map[string]uint64
	byTargetType  map[string]uint64
	bySeverity    map[string]uint64
	perDay        map[string]uint64
	distinctDays  int
	actionsCapped bool
}

const maxKeys = 10_000

func newTally() *tally {
	return &tally{byAction: map[string]uint64{}, bySource: map[string]uint64{}, byTargetType: map[string]uint64{},
		bySeverity: map[string]uint64{}, perDay: map[string]uint64{}}
}

func (t *tally) add(r *audit.Record) {
	if t.n == 0 {
		t.first = r.Sequence
	}
	t.n++
	t.last = r.Sequence
	if r.Pruned != nil {
		return
	}
	ts := r.Timestamp.UTC()
	if t.from.IsZero() || ts.Before(t.from) {
		t.from = ts
	}
	if ts.After(t.to) {
		t.to = ts
	}
	bump := func(m map[string]uint64, k string) {
		if _, ok := m[k]; ok || len(m) < maxKeys {
			m[k]++
		} else {
			m["(others)"]++
		}
	}
	bump(t.byAction, r.Action)
	bump(t.bySource, r.Source)
	bump(t.byTargetType, string(r.TargetType))
	bump(t.bySeverity, string(r.Severity))
	bump(t.perDay, ts.Format("2006-01-02"))
}

func summary(t *tally, as *compliance.Assessment, r *report.Report, o Options) []report.Item {
	items := []report.Item{{Label: "Records in the period", Value: strconv.FormatUint(t.n, 10)}}
	if t.n > 0 {
		items = append(items, report.Item{Label: "Sequences", Value: fmt.Sprintf("%d..%d", t.first, t.last)})
	}
	if !t.from.IsZero() {
		items = append(items,
			report.Item{Label: "Oldest record", Value: t.from.Format(time.RFC3339)},
			report.Item{Label: "Newest record", Value: t.to.Format(time.RFC3339)})
	}
	items = append(items, report.Item{Label: "Open findings", Value: strconv.Itoa(len(r.Findings))})
	if len(o.Catalogs) > 0 {
		items = append(items,
			report.Item{Label: "Controls present", Value: fmt.Sprintf("%d of %d", as.Totals.Present, as.Totals.Controls)},
			report.Item{Label: "Controls failed", Value: strconv.Itoa(as.Totals.Failed)},
			report.Item{Label: "Gaps in the trail", Value: strconv.Itoa(len(as.Gaps))})
	}
	return items
}

// top is a count table, largest first, at most n rows.
func top(title, col string, m map[string]uint64, n int) report.Section {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	s := report.Section{Title: title, Columns: []string{col, "records"}}
	for i, k := range keys {
		if i == n {
			s.Text = fmt.Sprintf("The %d most frequent of %d.", n, len(keys))
			break
		}
		s.Rows = append(s.Rows, []string{k, strconv.FormatUint(m[k], 10)})
	}
	return s
}

func (t *tally) sections(findings []*audit.Record) []report.Section {
	out := []report.Section{
		top("Records by action", "action", t.byAction, 25),
		top("Records by source", "source", t.bySource, 25),
		top("Records by target type", "target type", t.byTargetType, 25),
	}
	sev := report.Section{Title: "Records by severity", Columns: []string{"severity", "records"}}
	for _, s := range audit.Severities {
		if n := t.bySeverity[string(s)]; n > 0 {
			sev.Rows = append(sev.Rows, []string{string(s), strconv.FormatUint(n, 10)})
		}
	}
	out = append(out, sev)
	if len(t.perDay) > 1 {
		days := slices.Sorted(maps.Keys(t.perDay))
		c := &report.Chart{Kind: report.ChartLine, Unit: "records"}
		for _, d := range days {
			c.Labels = append(c.Labels, d)
			c.Values = append(c.Values, float64(t.perDay[d]))
		}
		out = append(out, report.Section{Title: "Records per day", Chart: c})
	}
	if len(findings) > 0 {
		f := report.Section{Title: "Open findings", Text: "The open findings of the analyzers, most severe first.",
			Columns: []string{"severity", "analyzer", "target", "finding", "since", "record"}}
		for _, r := range findings {
			an, _ := r.Context[analyzer.MemberAnalyzer].(string)
			desc := r.Reason
			if len(r.Findings) > 0 {
				desc = r.Findings[0].Description
			}
			f.Rows = append(f.Rows, []string{string(r.Severity), an, r.Target, desc, r.Timestamp.UTC().Format(time.RFC3339),
				fmt.Sprintf("%d", r.Sequence)})
		}
		out = append(out, f)
	}
	return out
}

// Describe says in one line what a period report covers, for messages.
func Describe(res *Result) string {
	return fmt.Sprintf("%s of the period (%s)", plural.Count(res.Count, "record"), res.Report.Integrity.Origin)
}
