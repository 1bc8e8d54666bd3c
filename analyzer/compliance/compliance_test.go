package compliance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	ancomp "github.com/ami-orchestrator/ami-audit/analyzer/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/assess"
	"github.com/ami-orchestrator/ami-audit/compliance/compliancetest"
)

// The analyzer records what is not in order as findings, through the
// pipeline, and a second run over the unchanged trail appends nothing.
func TestFindingsRecordedOnce(t *testing.T) {
	ctx := context.Background()
	sc := compliancetest.New(t)
	cats, err := compliance.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	an, err := ancomp.New(ancomp.Config{Catalogs: cats, Facts: func(ctx context.Context) (assess.Facts, error) {
		f, _, err := assess.FactsOf(ctx, sc.Trail, assess.GatherOptions{Now: compliancetest.Now})
		return f, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := sc.Trail.Store()
	cfg := analyzer.Config{Trail: s, Appender: s, Now: func() time.Time { return compliancetest.Now }}
	res, err := analyzer.Run(ctx, cfg, []audit.Analyzer{an}, analyzer.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].New == 0 {
		t.Fatal("the first run recorded no finding")
	}
	byTarget := map[string]*audit.Record{}
	for _, r := range res[0].Open {
		byTarget[r.Target] = r
		if r.Action != "compliance_finding" || r.Source != "compliance_analyzer" {
			t.Errorf("record %s: action %s, source %s", r.Target, r.Action, r.Source)
		}
	}
	for target, sev := range map[string]audit.Severity{
		"controls/nist-800-53/RA-5":         audit.SeverityError,
		"controls/iso27001-2013/A.12.1.2":   audit.SeverityWarning,
		"trail/" + compliance.GapSchedule:   audit.SeverityWarning,
		"trail/" + compliance.GapUncosigned: audit.SeverityWarning,
		"trail/" + compliance.GapClock:      audit.SeverityWarning,
		"trail/" + compliance.GapSignatures: audit.SeverityWarning,
	} {
		r := byTarget[target]
		if r == nil {
			t.Errorf("no open finding about %s", target)
			continue
		}
		if r.Severity != sev {
			t.Errorf("%s: severity %s, want %s", target, r.Severity, sev)
		}
	}
	if _, present := byTarget["controls/nist-800-53/AU-2"]; present {
		t.Error("a control with all its evidence became a finding")
	}
	// RA-5's finding cites the critical security finding as evidence.
	if ids := fmt.Sprint(byTarget["controls/nist-800-53/RA-5"].Context[analyzer.MemberRecords]); !strings.Contains(ids, sc.Critical.RecordID) {
		t.Errorf("RA-5 cites %v, want the critical finding %s", ids, sc.Critical.RecordID)
	}

	res, err = analyzer.Run(ctx, cfg, []audit.Analyzer{an}, analyzer.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if n := res[0].Appended(); n != 0 {
		t.Errorf("a second run over the unchanged trail appended %d records", n)
	}
}
