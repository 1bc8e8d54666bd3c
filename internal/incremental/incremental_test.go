package incremental

import (
	"context"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

func rec(target string, n int, took float64) *audit.Record {
	r := audit.New("tester", "scan", target, audit.TargetModule)
	r.Source = "test_source"
	r.Context = map[string]any{"n": n, "duration_ms": took}
	r.Findings = []audit.Finding{{FindingType: "x", Description: "d"}}
	r.Normalize()
	return r
}

func TestDigest(t *testing.T) {
	a, b := rec("m", 1, 3.5), rec("m", 1, 9.25)
	b.Timestamp = a.Timestamp.Add(time.Hour)
	if Digest(a, "duration_ms") != Digest(b, "duration_ms") {
		t.Error("ids, times or volatile keys change the digest")
	}
	if Digest(a) == Digest(b) {
		t.Error("a volatile key not named is left out")
	}
	if Digest(a, "duration_ms") == Digest(rec("m", 2, 3.5), "duration_ms") {
		t.Error("content does not change the digest")
	}
	Stamp(a, "duration_ms")
	if Digest(a, "duration_ms") != a.Metadata[MetaKey] {
		t.Error("the stamp changes the digest")
	}
}

func TestFilter(t *testing.T) {
	ctx := context.Background()
	trail := &memtrail.Trail{}
	key := func(r *audit.Record) string { return r.Target }
	run := func(recs ...*audit.Record) (out []*audit.Record, skipped int64) {
		x, err := Load(ctx, trail, "test_source", key, audit.Filter{TargetType: audit.TargetModule})
		if err != nil {
			t.Fatal(err)
		}
		emit := x.Filter(key, func(r *audit.Record) error { out = append(out, r); return nil }, &skipped, "duration_ms")
		for _, r := range recs {
			emit(r)
		}
		trail.Append(ctx, out)
		return out, skipped
	}
	if out, _ := run(rec("a", 1, 1), rec("b", 1, 1)); len(out) != 2 {
		t.Fatalf("first run emitted %d", len(out))
	}
	if out, skipped := run(rec("a", 1, 2), rec("b", 1, 3)); len(out) != 0 || skipped != 2 {
		t.Errorf("unchanged run emitted %d, skipped %d", len(out), skipped)
	}
	if out, _ := run(rec("a", 2, 1), rec("b", 1, 1)); len(out) != 1 || out[0].Target != "a" {
		t.Errorf("one change emitted %d", len(out))
	}
	// back to the first state: the newest record says otherwise, so it
	// is recorded again
	if out, _ := run(rec("a", 1, 1)); len(out) != 1 {
		t.Errorf("a return to an earlier state emitted %d", len(out))
	}
}
