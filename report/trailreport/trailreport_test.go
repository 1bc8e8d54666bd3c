package trailreport_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/compliancetest"
	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
	"github.com/ami-orchestrator/ami-audit/report/jsonfmt"
	"github.com/ami-orchestrator/ami-audit/report/trailreport"
)

// The report of the test trail opens with its verified integrity, holds
// the assessment and the open findings, and its JSON validates against
// the published schema.
func TestBuildFromTrail(t *testing.T) {
	ctx := context.Background()
	sc := compliancetest.New(t)
	cats, err := compliance.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	res, err := trailreport.Build(ctx, sc.Trail, trailreport.Options{Catalogs: cats, Now: compliancetest.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	in := r.Integrity
	if in == nil || !in.Verified || in.TreeSize != sc.Size || in.Checkpoint == "" || in.KeyFingerprint == "" || in.Range.To != sc.Size {
		t.Fatalf("integrity %+v", in)
	}
	if r.Compliance == nil || len(r.Findings) != 1 || r.Findings[0].RecordID != sc.Critical.RecordID {
		t.Errorf("compliance %v, findings %d", r.Compliance != nil, len(r.Findings))
	}
	if res.Count != sc.Size {
		t.Errorf("%d records in the period, want %d", res.Count, sc.Size)
	}
	var buf bytes.Buffer
	if err := jsonfmt.New().Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.Validate(reporttest.Schema(t, "report.schema.json", jsonfmt.Schema), buf.Bytes()); err != nil {
		t.Errorf("the report does not validate:\n%v", err)
	}
	// A period: only its records.
	since := compliancetest.Now.AddDate(0, 0, -1)
	res, err = trailreport.Build(ctx, sc.Trail, trailreport.Options{Since: since, Now: compliancetest.Now})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count == 0 || res.Count >= sc.Size || res.Report.Compliance != nil {
		t.Errorf("since %s: %d records, compliance %v", since, res.Count, res.Report.Compliance != nil)
	}
}
