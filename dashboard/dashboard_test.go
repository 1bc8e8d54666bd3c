package dashboard

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "a.db"), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var recs []*audit.Record
	for i := range 30 {
		r := audit.New("alice", "scan", "repo", audit.TargetFile)
		if i%3 == 0 {
			r.Action = "deploy"
			r.Findings = []audit.Finding{{FindingType: "secret", Severity: audit.SeverityCritical, Description: "token"}}
		}
		if i%5 == 0 {
			r.Findings = append(r.Findings, audit.Finding{FindingType: "style", Severity: audit.SeverityWarning, Description: "x"})
		}
		r.Normalize()
		recs = append(recs, r)
	}
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	w := New(Config{Store: s, Latest: 4, Window: 20})
	snap := w.Snapshot(ctx)
	if snap.Head.Size != 30 || len(snap.Latest) != 4 || snap.Latest[0].Sequence != 29 || snap.Scanned != 20 {
		t.Fatalf("size %d, %d latest (first %d), %d scanned", snap.Head.Size, len(snap.Latest), snap.Latest[0].Sequence, snap.Scanned)
	}
	// in records 10..29: deploy at 12,15,...,27 (6); warnings at 10,15,20,25 (4)
	if snap.Findings[audit.SeverityCritical] != 6 || snap.Findings[audit.SeverityWarning] != 4 {
		t.Errorf("findings %v", snap.Findings)
	}
	w.SetText("DEPLOY")
	snap = w.Snapshot(ctx)
	for _, r := range snap.Latest {
		if r.Action != "deploy" {
			t.Errorf("the filter let %s through", r.Action)
		}
	}
	if st := StatusLine(snap); !strings.Contains(st, "size 30") || !strings.Contains(st, "critical") {
		t.Errorf("status %q", st)
	}
}

func TestSparkline(t *testing.T) {
	if got := Sparkline([]float64{0, 1, 2, 4, 8}); got != "▁▁▂▄█" {
		t.Errorf("sparkline %q", got)
	}
	if got := Sparkline([]float64{0, 0}); got != "▁▁" {
		t.Errorf("sparkline of nothing %q", got)
	}
}
