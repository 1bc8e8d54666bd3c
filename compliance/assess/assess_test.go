package assess_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/assess"
	"github.com/ami-orchestrator/ami-audit/compliance/compliancetest"
	"github.com/ami-orchestrator/ami-audit/trail"
)

func assessTrail(t *testing.T, tr *trail.Trail) (*compliance.Assessment, assess.Facts) {
	t.Helper()
	ctx := context.Background()
	facts, _, err := assess.FactsOf(ctx, tr, assess.GatherOptions{Now: compliancetest.Now})
	if err != nil {
		t.Fatal(err)
	}
	cats, err := compliance.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	a, err := assess.Assess(ctx, assess.Input{Trail: tr.Store(), Catalogs: cats, Now: compliancetest.Now, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	return a, facts
}

func TestAssessKnownEvidence(t *testing.T) {
	sc := compliancetest.New(t)
	a, facts := assessTrail(t, sc.Trail)
	if !facts.Verified || facts.Cosigned != sc.CosignedSize {
		t.Fatalf("facts: verified %v, co-signed %d (want %d)", facts.Verified, facts.Cosigned, sc.CosignedSize)
	}
	for _, c := range []struct {
		framework, control string
		want               compliance.Status
	}{
		{"nist-800-53", "AU-2", compliance.Present},       // fresh source records
		{"nist-800-53", "AU-3", compliance.Present},       // records, and they verify
		{"nist-800-53", "AU-11", compliance.Present},      // a retention policy, nothing overdue
		{"nist-800-53", "AU-12", compliance.Partial},      // the schedule has a gap
		{"nist-800-53", "AU-8", compliance.Partial},       // the clock went back
		{"nist-800-53", "AU-9", compliance.Partial},       // the co-signed checkpoint is stale
		{"nist-800-53", "AU-10", compliance.Partial},      // some records unsigned
		{"nist-800-53", "RA-5", compliance.Failed},        // the open critical finding
		{"iso27001", "A.8.8", compliance.Failed},          // likewise, 2022 numbering
		{"iso27001-2013", "A.12.1.2", compliance.Missing}, // no git history recorded
		{"iso27001", "A.8.9", compliance.Partial},         // file hashes, but no drift analysis
		{"eu-ai-act", "Art. 19", compliance.Failed},       // logs kept 90 days, not six months
		{"eu-ai-act", "Art. 12", compliance.Partial},
	} {
		got := a.Control(c.framework, c.control)
		if got == nil {
			t.Errorf("%s %s: not assessed", c.framework, c.control)
			continue
		}
		if got.Status != c.want {
			var why []string
			for _, r := range got.Evidence {
				why = append(why, string(r.Status)+": "+r.Text+" ("+r.Detail+")")
			}
			t.Errorf("%s %s: %s, want %s\n  %s", c.framework, c.control, got.Status, c.want, strings.Join(why, "\n  "))
		}
	}
	// Evidence cites the records.
	au2 := a.Control("nist-800-53", "AU-2")
	if len(au2.Evidence[0].Records) == 0 || au2.Evidence[0].Count < 5 {
		t.Errorf("AU-2 cites %d records of %d", len(au2.Evidence[0].Records), au2.Evidence[0].Count)
	}
	// The policy violation names the finding.
	var found bool
	for _, v := range a.Violations {
		if v.Control == "RA-5" && v.Record.RecordID == sc.Critical.RecordID && v.Severity == "critical" {
			found = true
		}
	}
	if !found {
		t.Errorf("no violation of RA-5 by the critical finding %s: %+v", sc.Critical.RecordID, a.Violations)
	}

	// The gaps in the trail itself.
	sched := a.GapsOf(compliance.GapSchedule)
	if len(sched) != 1 || sched[0].Count != 3 || !sched[0].Start.Equal(compliancetest.GapStart) {
		t.Errorf("schedule gaps: %+v, want one of 3 runs from %s", sched, compliancetest.GapStart)
	}
	unco := a.GapsOf(compliance.GapUncosigned)
	if len(unco) != 1 || *unco[0].From != sc.CosignedSize {
		t.Errorf("uncosigned span: %+v, want from %d", unco, sc.CosignedSize)
	}
	clock := a.GapsOf(compliance.GapClock)
	if len(clock) != 1 || *clock[0].From != sc.Clock.Sequence || !strings.Contains(clock[0].Title, "4h1m0s") {
		t.Errorf("clock anomalies: %+v, want one at %d going back 4h1m", clock, sc.Clock.Sequence)
	}
	sigs := a.GapsOf(compliance.GapSignatures)
	if len(sigs) == 0 || *sigs[0].From < sc.CosignedSize {
		t.Errorf("unsigned records: %+v, want spans after the co-signed checkpoint (%d)", sigs, sc.CosignedSize)
	}
	if len(a.GapsOf(compliance.GapUnverified)) != 0 {
		t.Errorf("an untouched trail has unverified records: %+v", a.GapsOf(compliance.GapUnverified))
	}

	// A record changed behind the log's back: the result names it.
	tampered := sc.FileHashes[2]
	a, facts = assessTrail(t, sc.Tamper(t, tampered.Sequence))
	if facts.Verified || facts.Failure == nil || facts.Failure.Seq != tampered.Sequence {
		t.Fatalf("tampered trail: verified %v, failure %v, want record %d", facts.Verified, facts.Failure, tampered.Sequence)
	}
	unv := a.GapsOf(compliance.GapUnverified)
	if len(unv) != 1 || *unv[0].From != tampered.Sequence || unv[0].Severity != "critical" || !strings.Contains(unv[0].Detail, "record_hash mismatch") {
		t.Errorf("unverified gap: %+v, want one from record %d", unv, tampered.Sequence)
	}
	if got := a.Control("nist-800-53", "AU-3"); got.Status != compliance.Failed {
		t.Errorf("AU-3 on a tampered trail: %s, want failed", got.Status)
	}
}

func TestAssessIsStable(t *testing.T) {
	sc := compliancetest.New(t)
	a1, _ := assessTrail(t, sc.Trail)
	a2, _ := assessTrail(t, sc.Trail)
	if a1.Totals != a2.Totals || len(a1.Gaps) != len(a2.Gaps) {
		t.Errorf("two assessments of one trail differ: %+v / %+v", a1.Totals, a2.Totals)
	}
	for i := range a1.Gaps {
		if a1.Gaps[i].Key != a2.Gaps[i].Key {
			t.Errorf("gap %d: key %s then %s", i, a1.Gaps[i].Key, a2.Gaps[i].Key)
		}
	}
}
