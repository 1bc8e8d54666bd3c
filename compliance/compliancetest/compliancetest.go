// Package compliancetest builds a trail with known evidence, the one the
// compliance, report, packet and command tests assess: some controls fully
// evidenced, some partly, some not at all, one failed by an open critical
// security finding; a gap of three days in a daily schedule; records past
// a stale co-signed checkpoint; records without a trusted signature; and
// a clock that went back.
package compliancetest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store/all"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Now is the time the scenario is assessed at.
var Now = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

// GapStart is the first of the three daily runs that have no record.
var GapStart = time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC)

// Config is what the scenario adds to the trail's config.yaml: a log
// retention policy shorter than six months, and the daily job.
const Config = `retention:
  policies:
    - name: logs
      target_type: log
      keep: 90d
schedules:
  - name: daily
    cron: "0 0 * * *"
    run: repo --sources=file
`

// Scenario is the trail and what the tests expect of it.
type Scenario struct {
	Trail *trail.Trail
	// Dir is the trail's directory; Config its trail configuration.
	Dir    string
	Config trail.Config
	// Alice is a trusted signer (Dir/trusted/alice.pub).
	Alice note.Signer
	// CosignedSize is the size of the checkpoint Alice co-signed, on
	// 2025-06-10: stale by the week the catalogs ask for.
	CosignedSize uint64
	// Critical is the open critical security finding.
	Critical *audit.Record
	// Clock is the record whose time goes back four hours.
	Clock *audit.Record
	// FileHashes are the file_source records.
	FileHashes []*audit.Record
	// Size is the trail's size.
	Size uint64
}

// New builds the scenario in a temporary directory. The trail stays open
// (read-write) until the test ends.
func New(t testing.TB) *Scenario {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, ".audit")
	cfg := trail.Config{Dir: dir, Registry: all.Registry()}
	tr, _, err := trail.Create(ctx, cfg, trail.CreateOptions{Origin: "example.org/compliance"})
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	f, err := os.OpenFile(filepath.Join(dir, trail.ConfigFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(Config)
	f.Close()
	if err := os.MkdirAll(filepath.Join(dir, trail.TrustedDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Generate("alice", filepath.Join(root, "alice.key"), filepath.Join(dir, trail.TrustedDir, "alice.pub")); err != nil {
		t.Fatal(err)
	}
	alice, err := keys.LoadSigner(filepath.Join(root, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err = trail.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	sc := &Scenario{Trail: tr, Dir: dir, Config: cfg, Alice: alice}
	s := tr.Store()
	app := func(recs ...*audit.Record) {
		t.Helper()
		for _, r := range recs {
			r.Normalize()
		}
		if err := s.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}

	// Daily runs from June 15 to June 30, but for June 20, 21 and 22.
	for d := time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC); !d.After(Now); d = d.AddDate(0, 0, 1) {
		if !d.Before(GapStart) && d.Before(GapStart.AddDate(0, 0, 3)) {
			continue
		}
		r := audit.New("ami-audit schedule", "scheduled_run", "schedule/daily", audit.TargetService)
		r.Source, r.Timestamp = "schedule", d.Add(time.Minute)
		r.Context = map[string]any{"job": "daily", "cron": "0 0 * * *", "command": "repo --sources=file",
			"scheduled_for": audit.FormatTime(d), "started": audit.FormatTime(d), "ended": audit.FormatTime(d.Add(time.Minute)),
			"outcome": "success", "duration_seconds": 60}
		app(r)
	}
	// What the file source recorded, and deploys given to the trail.
	for i := range 5 {
		r := audit.New("alice", "file_hash", fmt.Sprintf("config/app-%d.yaml", i), audit.TargetFile)
		r.Source, r.Timestamp = "file_source", time.Date(2025, 6, 29, 10, 0, i, 0, time.UTC)
		r.Context = map[string]any{"sha256": fmt.Sprintf("%064x", i), "size": 100 + i}
		app(r)
		sc.FileHashes = append(sc.FileHashes, r)
	}
	var deploys []*audit.Record
	for i := range 4 {
		r := audit.New("ci", "deploy", "svc/api", audit.TargetService)
		r.Source, r.Timestamp, r.Reason = "cli", time.Date(2025, 6, 28, 9, i, 0, 0, time.UTC), fmt.Sprintf("release 1.%d", i)
		app(r)
		deploys = append(deploys, r)
	}
	// Alice signs two deploys, and co-signs the checkpoint of all so far,
	// three weeks before the assessment.
	for _, r := range deploys[:2] {
		sig, err := ledger.SignRecord(alice, r.RecordHash, time.Date(2025, 6, 28, 10, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddSignature(ctx, r.RecordID, sig); err != nil {
			t.Fatal(err)
		}
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, cp, err := tr.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cos, err := ledger.Cosign(cp, alice, time.Date(2025, 6, 10, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Raw().(ledger.CosignatureStore).AddCosignature(ctx, cos); err != nil {
		t.Fatal(err)
	}
	sc.CosignedSize = head.Size

	// A service state stamped four hours before the run appended before
	// it: the clock went back.
	clock := audit.New("ami-audit", "service_state", "svc/api", audit.TargetService)
	clock.Source, clock.Timestamp = "service_source", time.Date(2025, 6, 29, 20, 0, 0, 0, time.UTC)
	clock.Context = map[string]any{"state": "up"}
	app(clock)
	sc.Clock = clock
	// An open critical security finding, through the analyzer pipeline.
	res, err := analyzer.Run(ctx, analyzer.Config{Trail: s, Appender: s, Now: func() time.Time { return Now.Add(-time.Hour) }},
		[]audit.Analyzer{criticalSecret{}}, analyzer.Input{Target: root})
	if err != nil {
		t.Fatal(err)
	}
	sc.Critical = res[0].Open[0]
	// Two more deploys, signed by nobody.
	for i := range 2 {
		r := audit.New("ci", "deploy", "svc/web", audit.TargetService)
		r.Source, r.Timestamp = "cli", time.Date(2025, 6, 30, 9, i, 0, 0, time.UTC)
		app(r)
	}
	if head, err = s.Head(ctx); err != nil {
		t.Fatal(err)
	}
	sc.Size = head.Size
	return sc
}

// criticalSecret is a security analyzer that finds one live secret.
type criticalSecret struct{}

func (criticalSecret) Name() string          { return "security" }
func (criticalSecret) Understands() []string { return nil }
func (criticalSecret) Analyze(_ context.Context, _ *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	return []string{"secrets"}, report(audit.Detected{Key: "secret|config/app-0.yaml|aws", Check: "secrets",
		Target: "config/app-0.yaml", TargetType: audit.TargetFile,
		Finding:  audit.Finding{FindingType: "secret", Severity: audit.SeverityCritical, Description: "AWS access key in config/app-0.yaml", Recommendation: "revoke it"},
		Evidence: map[string]any{"file": "config/app-0.yaml", "line": 3, "rule": "aws-access-token"}})
}

// Tamper changes the stored content of the record at seq behind the
// log's back (the trail is closed first), and returns the trail opened
// again, read-only, as a verifier would.
func (sc *Scenario) Tamper(t testing.TB, seq uint64) *trail.Trail {
	t.Helper()
	sc.Trail.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(sc.Dir, trail.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE records SET body = replace(body, '"size":10', '"size":90') WHERE seq = ?`, seq)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tamper: %d rows changed", n)
	}
	cfg := sc.Config
	cfg.ReadOnly = true
	tr, err := trail.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	sc.Trail = tr
	return tr
}
