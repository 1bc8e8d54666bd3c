package trail_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/disclose"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/retention"
	"github.com/ami-orchestrator/ami-audit/store/all"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// newTrail creates a trail in a temporary directory, with config appended
// to its config.yaml, and opens it for appending.
func newTrail(t testing.TB, config string) (*trail.Trail, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".audit")
	cfg := trail.Config{Dir: dir, Registry: all.Registry()}
	tr, _, err := trail.Create(context.Background(), cfg, trail.CreateOptions{Origin: "example.org/forget"})
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if config != "" {
		f, err := os.OpenFile(filepath.Join(dir, trail.ConfigFile), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(config)
		f.Close()
	}
	tr, err = trail.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, dir
}

func logKey(t testing.TB, dir string) note.Signer {
	t.Helper()
	s, err := keys.LoadSigner(filepath.Join(dir, trail.LogKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func otherKey(t *testing.T, name string) note.Signer {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedact(t *testing.T) {
	ctx := context.Background()
	tr, dir := newTrail(t, "")
	login := audit.New("ci", "login", "svc/api", audit.TargetService)
	login.Classification = audit.ClassConfidential
	login.Context = map[string]any{"user_email": "ana@example.org", "ip": "10.0.0.1"}
	if err := tr.Store().Append(ctx, []*audit.Record{login, audit.New("ci", "deploy", "svc/api", audit.TargetService)}); err != nil {
		t.Fatal(err)
	}
	cp, _, err := tr.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Without a redactor key, or for a field hashed in the clear: refused,
	// nothing appended.
	if _, err := tr.Redact(ctx, otherKey(t, "mallory"), login.RecordID, []string{"context.user_email"}, "why"); !errors.Is(err, trail.ErrNotRedactor) {
		t.Errorf("redaction with another key: %v, want ErrNotRedactor", err)
	}
	key := logKey(t, dir)
	for _, field := range []string{"actor", "context.nothing"} {
		if _, err := tr.Redact(ctx, key, login.RecordID, []string{field}, "why"); !errors.Is(err, audit.ErrNotCommitted) {
			t.Errorf("redaction of %s: %v, want ErrNotCommitted", field, err)
		}
	}
	if _, err := tr.Redact(ctx, key, login.RecordID, []string{"context.user_email"}, " "); !errors.Is(err, trail.ErrOptions) {
		t.Errorf("redaction without a reason: %v", err)
	}
	if h, _ := tr.Store().Head(ctx); h.Size != 2 {
		t.Fatalf("refused redactions appended: size %d", h.Size)
	}
	res, err := tr.Redact(ctx, key, login.RecordID, []string{"context.user_email"}, "erasure request 2025-118")
	if err != nil {
		t.Fatal(err)
	}
	if res.Redaction == nil || !slices.Equal(res.Redacted, []string{"context.user_email"}) || len(res.Redaction.Signatures) != 1 {
		t.Fatalf("redaction result %+v", res)
	}
	// Again: nothing left to do, nothing appended.
	again, err := tr.Redact(ctx, key, login.RecordID, []string{"context.user_email"}, "erasure request 2025-118")
	if err != nil || again.Redaction != nil || !slices.Equal(again.Already, []string{"context.user_email"}) {
		t.Errorf("a second redaction: %+v, %v", again, err)
	}
	rep, err := tr.Verify(ctx, trail.VerifyOptions{Checkpoints: []trail.SavedCheckpoint{{Name: "cp", Note: cp}}})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Forgotten; f == nil || f.RedactedFields != 1 || len(f.Redactions) != 1 || f.Redactions[0].Reason != "erasure request 2025-118" {
		t.Fatalf("verify reports %+v", rep.Forgotten)
	}
	if !slices.ContainsFunc(rep.Checks, func(c trail.Check) bool {
		return c.Name == "redacted" && strings.Contains(c.Detail, "context.user_email")
	}) {
		t.Errorf("no redacted check among %+v", rep.Checks)
	}
	// The record still proves against the checkpoint taken before.
	if _, err := tr.Prove(ctx, login.RecordID, cp); err != nil {
		t.Fatal(err)
	}
	// Readers see the remaining value only when they may.
	read := func(a disclose.Access) *audit.Record {
		vr := tr.Store().(ledger.ValueReader)
		for r, err := range disclose.Records(ctx, vr, a, tr.Store().Query(ctx, audit.Filter{Action: "login"})) {
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		t.Fatal("no record")
		return nil
	}
	if r := read(disclose.None); len(r.Disclosures) != 0 {
		t.Errorf("a reader without access sees %v", r.Disclosures)
	}
	if r := read(disclose.Access{Classes: []string{audit.ClassRestricted}}); len(r.Disclosures) != 0 {
		t.Errorf("a reader of restricted records sees confidential values %v", r.Disclosures)
	}
	r := read(disclose.Everything)
	if len(r.Disclosures) != 1 || r.Disclosures["context.ip"].Value != "10.0.0.1" {
		t.Errorf("a reader with access sees %v", r.Disclosures)
	}
	ctxView, _ := disclose.Fields(r)
	if ctxView["ip"] != "10.0.0.1" || !strings.HasPrefix(fmt.Sprint(ctxView["user_email"]), "[committed sha256:") {
		t.Errorf("fields as a person reads them: %v", ctxView)
	}
}

// TestRedactorKeys names another key as the one redactor: the log key no
// longer redacts.
func TestRedactorKeys(t *testing.T) {
	ctx := context.Background()
	dpo := otherKey(t, "dpo")
	// The verifier key text of dpo.
	skey, vkey, err := note.GenerateKey(rand.Reader, "dpo")
	if err != nil {
		t.Fatal(err)
	}
	dpo, _ = note.NewSigner(skey)
	tr, dir := newTrail(t, "")
	tr.Close()
	if first, err := trail.AddRedactor(dir, vkey); err != nil || !first {
		t.Fatalf("AddRedactor: %v %v", first, err)
	}
	tr, err = trail.Open(ctx, trail.Config{Dir: dir, Registry: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r := audit.New("ci", "login", "svc/api", audit.TargetService)
	r.Classification, r.Context = audit.ClassConfidential, map[string]any{"u": "x"}
	if err := tr.Store().Append(ctx, []*audit.Record{r}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Redact(ctx, logKey(t, dir), r.RecordID, []string{"context.u"}, "why"); !errors.Is(err, trail.ErrNotRedactor) {
		t.Errorf("the log key redacts though a redactor is named: %v", err)
	}
	if _, err := tr.Redact(ctx, dpo, r.RecordID, []string{"context.u"}, "why"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Verify(ctx, trail.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRetention prunes a generated trail with mixed ages, target types and
// legal holds, and checks that exactly the expected bodies are gone and
// everything else — old checkpoints, proofs of kept records — still
// verifies.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	tr, dir := newTrail(t, `retention:
  policies:
    - name: logs
      target_type: log
      keep: 90d
    - name: services
      target_type: service
      keep: 1y
    - name: long-logs
      source: compliance_source
      keep: 7y
`)
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	const n = 300
	var recs []*audit.Record
	for i := range n {
		tt, target := audit.TargetLog, fmt.Sprintf("logs/app-%d.log", i%5)
		if i%3 == 0 {
			tt, target = audit.TargetService, fmt.Sprintf("svc/%d", i%4)
		}
		if i%7 == 0 {
			tt, target = audit.TargetFile, "README.md"
		}
		r := audit.New("ci", "collect", target, tt)
		r.Timestamp = now.AddDate(0, 0, -((i * 37) % 500)) // 0..499 days old, not in sequence order
		if i%11 == 0 {
			r.Source = "compliance_source" // evidence: kept 7 years even when a log
		}
		if i%5 == 0 {
			r.Classification, r.Context = audit.ClassConfidential, map[string]any{"user": fmt.Sprintf("u%d", i)}
		}
		recs = append(recs, r)
	}
	if err := tr.Store().Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	cp, _, err := tr.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.PlaceHold(ctx, "logs/app-1.log", "", 0, 0, "legal", "litigation 7"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.PlaceHold(ctx, "", "", 10, 40, "legal", "incident 42"); err != nil {
		t.Fatal(err)
	}
	// What must go, computed here from the records as appended.
	var want []uint64
	for _, r := range recs {
		age := now.Sub(r.Timestamp)
		held := r.Target == "logs/app-1.log" || (r.Sequence >= 10 && r.Sequence < 40)
		switch {
		case held, r.Source == "compliance_source", r.TargetType == audit.TargetFile:
		case r.TargetType == audit.TargetLog && age > 90*24*time.Hour,
			r.TargetType == audit.TargetService && r.Timestamp.Before(now.AddDate(-1, 0, 0)):
			want = append(want, r.Sequence)
		}
	}
	if len(want) < 50 || len(want) > n-50 {
		t.Fatalf("the generated trail prunes %d of %d records: not a mix", len(want), n)
	}
	// Overdue (the compliance analyzer's question) names them before.
	var overdue []uint64
	for d, err := range retention.Overdue(ctx, tr.Raw(), tr.RetentionSettings(), now) {
		if err != nil {
			t.Fatal(err)
		}
		overdue = append(overdue, d.Seq)
	}
	if !slices.Equal(overdue, want) {
		t.Fatalf("Overdue names %d records, want %d", len(overdue), len(want))
	}
	// A dry run changes nothing; without a redactor key nothing runs.
	if res, err := tr.ApplyRetention(ctx, nil, trail.RetentionOptions{Now: now, DryRun: true}); err != nil || res.Pruned != uint64(len(want)) || res.Record != nil {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if _, err := tr.ApplyRetention(ctx, otherKey(t, "mallory"), trail.RetentionOptions{Now: now}); !errors.Is(err, trail.ErrNotRedactor) {
		t.Fatalf("retention with another key: %v", err)
	}
	res, err := tr.ApplyRetention(ctx, logKey(t, dir), trail.RetentionOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pruned != uint64(len(want)) || res.Record == nil || res.Claim.KeptByHolds == 0 {
		t.Fatalf("retention: %+v", res)
	}
	var pruned []uint64
	for r, err := range tr.Store().Range(ctx, 0, n) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Pruned != nil {
			pruned = append(pruned, r.Sequence)
			if r.RecordHash != recs[r.Sequence].RecordHash {
				t.Errorf("record %d lost its hash", r.Sequence)
			}
		}
	}
	if !slices.Equal(pruned, want) {
		t.Fatalf("pruned %d records, want %d", len(pruned), len(want))
	}
	rep, err := tr.Verify(ctx, trail.VerifyOptions{Checkpoints: []trail.SavedCheckpoint{{Name: "before", Note: cp}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Forgotten.Pruned != uint64(len(want)) || len(rep.Forgotten.Retentions) != 1 {
		t.Errorf("verify reports %+v", rep.Forgotten)
	}
	for _, seq := range []uint64{0, 7, 11, 12, 299} {
		if slices.Contains(want, seq) {
			continue
		}
		if _, err := tr.Prove(ctx, recs[seq].RecordID, cp); err != nil {
			t.Errorf("record %d kept: %v", seq, err)
		}
	}
	if _, err := tr.Prove(ctx, recs[want[0]].RecordID, cp); !errors.Is(err, audit.ErrPruned) {
		t.Errorf("proof of a pruned record: %v", err)
	}
	// A slice holding pruned records still verifies by its links and the
	// signed tree.
	if _, err := tr.VerifyRange(ctx, want[0], want[len(want)-1]+1); err != nil {
		t.Errorf("verify the range %d..%d holding pruned records: %v", want[0], want[len(want)-1], err)
	}
	// Again: nothing to prune, nothing appended.
	again, err := tr.ApplyRetention(ctx, logKey(t, dir), trail.RetentionOptions{Now: now})
	if err != nil || again.Record != nil || again.Pruned != 0 {
		t.Errorf("a second run: %+v, %v", again, err)
	}
	// Releasing the target hold needs the redactor key; then its records go.
	holds, err := tr.Holds(ctx)
	if err != nil || len(holds) != 2 {
		t.Fatalf("holds: %v, %v", holds, err)
	}
	if _, err := tr.ReleaseHold(ctx, otherKey(t, "mallory"), holds[0].ID, "done"); !errors.Is(err, trail.ErrNotRedactor) {
		t.Errorf("release with another key: %v", err)
	}
	if _, err := tr.ReleaseHold(ctx, logKey(t, dir), holds[0].ID, "case closed"); err != nil {
		t.Fatal(err)
	}
	res, err = tr.ApplyRetention(ctx, logKey(t, dir), trail.RetentionOptions{Now: now})
	if err != nil || res.Pruned == 0 {
		t.Fatalf("after the release: %+v, %v", res, err)
	}
	if _, err := tr.Verify(ctx, trail.VerifyOptions{Checkpoints: []trail.SavedCheckpoint{{Name: "before", Note: cp}}}); err != nil {
		t.Fatal(err)
	}
}

// TestCommittedFromSettings: the classifications the settings name are
// committed too, on top of those the log recorded at creation.
func TestCommittedFromSettings(t *testing.T) {
	ctx := context.Background()
	tr, dir := newTrail(t, "")
	tr.Close()
	path := filepath.Join(dir, trail.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "- restricted\n", "- restricted\n        - internal\n", 1)
	if edited == string(b) {
		t.Fatalf("no committed classifications in %s:\n%s", path, b)
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err = trail.Open(ctx, trail.Config{Dir: dir, Registry: all.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	plain, secret, public := audit.New("ci", "a", "t", audit.TargetFile), audit.New("ci", "a", "t", audit.TargetFile), audit.New("ci", "a", "t", audit.TargetFile)
	secret.Classification, public.Classification = audit.ClassConfidential, audit.ClassPublic
	for _, r := range []*audit.Record{plain, secret, public} {
		r.Context = map[string]any{"k": "v"}
	}
	if err := tr.Store().Append(ctx, []*audit.Record{plain, secret, public}); err != nil {
		t.Fatal(err)
	}
	if len(plain.Commitments) != 1 || len(secret.Commitments) != 1 || len(public.Commitments) != 0 {
		t.Errorf("committed: internal %v, confidential %v, public %v", plain.Commitments, secret.Commitments, public.Commitments)
	}
}
