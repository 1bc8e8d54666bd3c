package analyzer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// scripted reports what its fields say.
type scripted struct {
	name  string
	reads []string
	found []audit.Detected
	done  []string
	err   error
	in    *audit.Analysis
}

func (s *scripted) Name() string          { return s.name }
func (s *scripted) Understands() []string { return s.reads }
func (s *scripted) Analyze(_ context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	s.in = in
	for _, d := range s.found {
		if err := report(d); err != nil {
			return nil, err
		}
	}
	return s.done, s.err
}

func det(key, check string, sev audit.Severity, line int) audit.Detected {
	return audit.Detected{
		Key: key, Check: check, Target: "src/" + key + ".go", TargetType: audit.TargetFile,
		Finding:  audit.Finding{FindingType: "thing", Severity: sev, Description: "a " + key},
		Evidence: map[string]any{"file": "src/" + key + ".go", "line": line},
	}
}

// rawKey names a finding_key (a KeyID) by the test key it stands for.
func rawKey(id string) string {
	for _, k := range []string{"a", "b", "c", "d"} {
		if KeyID(k) == id {
			return k
		}
	}
	return id
}

// tail returns what the trail gained since n records: "action key" each,
// sorted (records of one run are appended in finding_key order).
func tail(tr *memtrail.Trail, n int) []string {
	var out []string
	for _, r := range tr.Records()[n:] {
		out = append(out, r.Action+" "+rawKey(r.Context[MemberKey].(string)))
	}
	slices.Sort(out)
	return out
}

func TestReconcile(t *testing.T) {
	ctx := t.Context()
	tr := &memtrail.Trail{}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cfg := Config{Trail: tr, Appender: tr, Now: func() time.Time { return now }}
	a := &scripted{name: "sec"}
	run := func(found []audit.Detected, done []string, err error) (Result, []string) {
		t.Helper()
		a.found, a.done, a.err = found, done, err
		n := tr.Len()
		res, runErr := Run(ctx, cfg, []audit.Analyzer{a}, Input{Target: "/repo"})
		if (runErr != nil) != (err != nil) {
			t.Fatalf("Run error %v, analyzer error %v", runErr, err)
		}
		return res[0], tail(tr, n)
	}

	A, B := det("a", "secrets", audit.SeverityCritical, 3), det("b", "secrets", audit.SeverityWarning, 7)
	C := det("c", "deps", audit.SeverityError, 1)
	steps := []struct {
		name  string
		found []audit.Detected
		done  []string
		err   error
		want  []string
		open  []string
	}{
		{"first run records every finding", []audit.Detected{B, A, C}, []string{"secrets", "deps"}, nil,
			[]string{"sec_finding a", "sec_finding b", "sec_finding c"}, []string{"a", "c", "b"}},
		{"unchanged input appends nothing", []audit.Detected{A, B, C}, []string{"secrets", "deps"}, nil,
			nil, []string{"a", "c", "b"}},
		{"new ids of the records analysed change nothing", []audit.Detected{withRecords(A, "r1"), B, C}, []string{"secrets", "deps"}, nil,
			nil, []string{"a", "c", "b"}},
		{"a changed finding is recorded again", []audit.Detected{A, det("b", "secrets", audit.SeverityWarning, 8), C}, []string{"secrets", "deps"}, nil,
			[]string{"sec_finding b"}, []string{"a", "c", "b"}},
		{"a check that did not run resolves nothing", []audit.Detected{A, B}, []string{"secrets"}, nil,
			[]string{"sec_finding b"}, []string{"a", "c", "b"}},
		{"a finding gone from a completed check is resolved", []audit.Detected{B, C}, []string{"secrets", "deps"}, nil,
			[]string{"sec_finding_resolved a"}, []string{"c", "b"}},
		{"after an error nothing is resolved, what was reported is kept", []audit.Detected{det("d", "secrets", audit.SeverityInfo, 1)}, []string{"secrets", "deps"}, errors.New("broke"),
			[]string{"sec_finding d"}, []string{"c", "b", "d"}},
		{"a resolved finding that returns is open again", []audit.Detected{A, B, C, det("d", "secrets", audit.SeverityInfo, 1)}, []string{"secrets", "deps"}, nil,
			[]string{"sec_finding a"}, []string{"a", "c", "b", "d"}},
		{"everything fixed", nil, []string{"secrets", "deps"}, nil,
			[]string{"sec_finding_resolved a", "sec_finding_resolved b", "sec_finding_resolved c", "sec_finding_resolved d"}, nil},
		{"and again: nothing", nil, []string{"secrets", "deps"}, nil, nil, nil},
	}
	for _, st := range steps {
		res, got := run(st.found, st.done, st.err)
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: appended (-want +got):\n%s", st.name, diff)
		}
		var open []string
		for _, r := range res.Open {
			open = append(open, rawKey(r.Context[MemberKey].(string)))
		}
		if diff := cmp.Diff(st.open, open); diff != "" {
			t.Errorf("%s: open after the run (-want +got):\n%s", st.name, diff)
		}
		// The open findings are derived from the trail alone.
		fromTrail, err := OpenSorted(ctx, tr, "sec")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(res.Open, fromTrail); diff != "" {
			t.Errorf("%s: Open from the trail differs from the run's (-run +trail):\n%s", st.name, diff)
		}
	}

	// The records say what they are about and link to each other.
	recs := tr.Records()
	byKey := func(action, key string) []*audit.Record {
		var out []*audit.Record
		for _, r := range recs {
			if r.Action == action && r.Context[MemberKey] == KeyID(key) {
				out = append(out, r)
			}
		}
		return out
	}
	first := byKey("sec_finding", "a")[0]
	if first.Action != "sec_finding" || first.Source != "sec_analyzer" || first.Severity != audit.SeverityCritical ||
		first.Target != "src/a.go" || first.TargetType != audit.TargetFile || len(first.Findings) != 1 ||
		first.Context["line"] != 3 || first.Context[MemberCheck] != "secrets" || first.Timestamp != now {
		t.Errorf("first finding record: %+v", first)
	}
	bs := byKey("sec_finding", "b")
	if len(bs) < 2 || bs[1].Context[MemberUpdates] != bs[0].RecordID {
		t.Errorf("changed finding does not name the record it updates: %+v", bs)
	}
	resolved := byKey("sec_finding_resolved", "a")
	if len(resolved) == 0 || resolved[0].Context[MemberResolves] != first.RecordID || resolved[0].Severity != audit.SeverityInfo || resolved[0].Target != "src/a.go" {
		t.Errorf("resolution does not name the finding it resolves: %+v", resolved)
	}
}

func withRecords(d audit.Detected, ids ...string) audit.Detected {
	d.Records = ids
	return d
}

func TestRunRefusesBadFindings(t *testing.T) {
	tr := &memtrail.Trail{}
	ok := det("a", "c", audit.SeverityInfo, 1)
	for name, d := range map[string][]audit.Detected{
		"duplicate key":     {ok, ok},
		"no key":            {{Check: "c", Target: "x", TargetType: audit.TargetFile, Finding: audit.Finding{FindingType: "t", Severity: audit.SeverityInfo}}},
		"no check":          {{Key: "k", Target: "x", TargetType: audit.TargetFile, Finding: audit.Finding{FindingType: "t", Severity: audit.SeverityInfo}}},
		"bad target type":   {{Key: "k", Check: "c", Target: "x", TargetType: "disk", Finding: audit.Finding{FindingType: "t", Severity: audit.SeverityInfo}}},
		"no severity":       {{Key: "k", Check: "c", Target: "x", TargetType: audit.TargetFile, Finding: audit.Finding{FindingType: "t"}}},
		"reserved evidence": {{Key: "k", Check: "c", Target: "x", TargetType: audit.TargetFile, Finding: audit.Finding{FindingType: "t", Severity: audit.SeverityInfo}, Evidence: map[string]any{MemberKey: "x"}}},
	} {
		a := &scripted{name: "x", found: d, done: []string{"c"}}
		res, err := Run(t.Context(), Config{Trail: tr, Appender: tr}, []audit.Analyzer{a}, Input{})
		if err == nil || res[0].Err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A duplicate key stops the analysis: the first report is kept, nothing resolved.
	if n := tr.Len(); n != 1 {
		t.Errorf("%d records appended for refused findings", n)
	}
	for _, name := range []string{"", "Sec", "two words", "a-b"} {
		if _, err := Run(t.Context(), Config{Trail: tr, Appender: tr}, []audit.Analyzer{&scripted{name: name}}, Input{}); err == nil {
			t.Errorf("analyzer name %q accepted", name)
		}
	}
	if _, err := Run(t.Context(), Config{Trail: tr, Appender: tr}, []audit.Analyzer{&scripted{name: "a"}, &scripted{name: "a"}}, Input{}); err == nil {
		t.Error("the same analyzer twice accepted")
	}
}

type panicky struct{ scripted }

func (p *panicky) Analyze(context.Context, *audit.Analysis, func(audit.Detected) error) ([]string, error) {
	panic("boom")
}

func TestPanicIsAnError(t *testing.T) {
	tr := &memtrail.Trail{}
	res, err := Run(t.Context(), Config{Trail: tr, Appender: tr}, []audit.Analyzer{&panicky{scripted{name: "p"}}}, Input{})
	if err == nil || !strings.Contains(res[0].Err.Error(), "panic: boom") {
		t.Errorf("panic gave %v", err)
	}
}

func TestMask(t *testing.T) {
	tr := &memtrail.Trail{}
	d := det("a", "c", audit.SeverityInfo, 1)
	d.Finding.Description = "see postgres://u:hunter2@db/x"
	a := &scripted{name: "m", found: []audit.Detected{d}, done: []string{"c"}}
	mask := func(r *audit.Record) {
		r.Findings[0].Description = strings.ReplaceAll(r.Findings[0].Description, "hunter2", "[REDACTED]")
	}
	if _, err := Run(t.Context(), Config{Trail: tr, Appender: tr, Mask: mask}, []audit.Analyzer{a}, Input{}); err != nil {
		t.Fatal(err)
	}
	if got := tr.Records()[0].Findings[0].Description; strings.Contains(got, "hunter2") {
		t.Errorf("record not masked: %q", got)
	}
	// Masking does not make an unchanged finding look changed.
	if _, err := Run(t.Context(), Config{Trail: tr, Appender: tr, Mask: mask}, []audit.Analyzer{a}, Input{}); err != nil || tr.Len() != 1 {
		t.Errorf("re-run appended %d records (err %v)", tr.Len()-1, err)
	}
}

func TestAppended(t *testing.T) {
	tr := &memtrail.Trail{}
	var recs []*audit.Record
	for i := range 10 {
		src := "a_source"
		if i%2 == 1 {
			src = "b_source"
		}
		r := audit.New("x", "act", fmt.Sprint(i), audit.TargetFile)
		r.Source = src
		r.Normalize()
		recs = append(recs, r)
	}
	if err := tr.Append(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	a := &scripted{name: "a", reads: []string{"b_source"}}
	// Spans out of order and overlapping: every record once, in order.
	_, err := Run(t.Context(), Config{Trail: tr, Appender: tr}, []audit.Analyzer{a},
		Input{Ran: []string{"b_source"}, Appended: []Span{{6, 10}, {0, 4}, {3, 5}, {9, 9}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r, err := range a.in.Appended {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Target)
	}
	if diff := cmp.Diff([]string{"1", "3", "7", "9"}, got); diff != "" {
		t.Errorf("appended records (-want +got):\n%s", diff)
	}
}

func TestLatest(t *testing.T) {
	tr := &memtrail.Trail{}
	add := func(target, source string, v int) {
		r := audit.New("x", "snapshot", target, audit.TargetModule)
		r.Source, r.Context = source, map[string]any{"v": v}
		r.Normalize()
		if err := tr.Append(t.Context(), []*audit.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", "module_source", 1)
	add("b", "module_source", 1)
	add("a", "module_source", 2)
	add("a", "other_source", 3)
	got, err := Latest(t.Context(), tr, audit.Filter{Action: "snapshot", Limit: 1}, "module_source")
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, r := range got {
		vs = append(vs, fmt.Sprint(r.Target, r.Context["v"]))
	}
	if diff := cmp.Diff([]string{"a2", "b1"}, vs); diff != "" {
		t.Errorf("latest per target (-want +got):\n%s", diff)
	}
}

func TestSelect(t *testing.T) {
	git := &scripted{name: "git", reads: []string{"git_source"}}
	sec := &scripted{name: "security", reads: []string{"file_source", "module_source"}}
	lone := &scripted{name: "lone"}
	names := func(as []audit.Analyzer) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Name())
		}
		return out
	}
	all := []audit.Analyzer{git, sec, lone}
	for _, tc := range []struct {
		ran  []string
		want []string
	}{
		{[]string{"git_source"}, []string{"git"}},
		{[]string{"module_source", "git_source"}, []string{"git", "security"}},
		{[]string{"log_source"}, nil},
		{nil, nil},
	} {
		if got := names(Select(all, tc.ran)); !slices.Equal(got, tc.want) {
			t.Errorf("Select(%v) = %v, want %v", tc.ran, got, tc.want)
		}
	}
}

func TestRunChecks(t *testing.T) {
	var ran []string
	check := func(name string, err error) Check {
		return Check{Name: name, Run: func() error { ran = append(ran, name); return err }}
	}
	done, notes, err := RunChecks(t.Context(), []Check{
		check("a", nil), check("b", fmt.Errorf("%w: no records", ErrNotChecked)), check("c", nil), check("d", nil),
	}, []string{"c"})
	if err != nil || !slices.Equal(done, []string{"a", "d"}) || !slices.Equal(notes, []string{"b: not checked: no records"}) || !slices.Equal(ran, []string{"a", "b", "d"}) {
		t.Errorf("done %v, notes %q, ran %v, err %v", done, notes, ran, err)
	}
	boom := errors.New("boom")
	done, _, err = RunChecks(t.Context(), []Check{check("a", nil), check("b", boom), check("c", nil)}, nil)
	if !errors.Is(err, boom) || done != nil {
		t.Errorf("done %v, err %v", done, err)
	}
}
