package audit

import (
	"context"
	"errors"
	"testing"
)

type sliceAppender struct {
	recs []*Record
	err  error
}

func (s *sliceAppender) Append(_ context.Context, recs []*Record) error {
	if s.err != nil {
		return s.err
	}
	s.recs = append(s.recs, recs...)
	return nil
}

func deploy(ctx context.Context, app Appender, fail error) (err error) {
	sc := Begin(ctx, app, "ci", "deploy", "svc/api", TargetService)
	defer sc.End(&err)
	sc.Set("version", "1.4").Reason("release")
	sc.Finding(Finding{FindingType: "note", Description: "canary first"})
	return fail
}

func TestScopeRecordsOutcome(t *testing.T) {
	app := &sliceAppender{}
	if err := deploy(context.Background(), app, nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("rollout stuck")
	if err := deploy(context.Background(), app, boom); !errors.Is(err, boom) {
		t.Fatalf("operation error replaced: %v", err)
	}
	if len(app.recs) != 2 {
		t.Fatalf("%d records, want 2", len(app.recs))
	}
	ok, bad := app.recs[0], app.recs[1]
	if ok.Context["outcome"] != "success" || ok.Severity != SeverityInfo || ok.Context["version"] != "1.4" || ok.Reason != "release" || len(ok.Findings) != 1 {
		t.Errorf("success record wrong: %+v", ok)
	}
	if bad.Context["outcome"] != "error" || bad.Context["error"] != "rollout stuck" || bad.Severity != SeverityError {
		t.Errorf("failure record wrong: %+v", bad)
	}
	if _, ok := ok.Context["duration_ms"].(float64); !ok {
		t.Error("no duration_ms")
	}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}

func TestScopeAppendFailureIsReported(t *testing.T) {
	down := errors.New("store down")
	app := &sliceAppender{err: down}
	if err := deploy(context.Background(), app, nil); !errors.Is(err, down) {
		t.Fatalf("a successful operation that could not be audited returned %v, want the append error", err)
	}
	sc := Begin(context.Background(), &sliceAppender{}, "a", "b", "c", TargetFile)
	sc.End(nil)
	if err := sc.End(nil); !errors.Is(err, ErrScopeEnded) {
		t.Errorf("second End = %v", err)
	}
}

func TestScopeSeverityViolationAndRecord(t *testing.T) {
	app := &sliceAppender{}
	sc := Begin(context.Background(), app, "ci", "lint", "pkg/x", TargetQuality)
	sc.Severity(SeverityCritical).Violation(Violation{Rule: "S101", Message: "assert used", FilePath: "x.py", LineNumber: 3})
	if got := sc.Record(); got.Severity != SeverityCritical || len(got.Violations) != 1 {
		t.Fatalf("record before End: %+v", got)
	}
	boom := errors.New("lint failed")
	err := boom
	sc.End(&err)
	r := app.recs[0]
	// A failure keeps a higher severity than error.
	if r.Severity != SeverityCritical || r.Violations[0].Rule != "S101" || r.Violations[0].Severity != SeverityWarning {
		t.Errorf("appended %+v", r)
	}
	if got := sc.Record(); got.RecordID != r.RecordID || got.Context["outcome"] != "error" {
		t.Errorf("Record after End = %+v", got)
	}
}
