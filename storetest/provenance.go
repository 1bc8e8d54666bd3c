package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/graph"
)

// plain hides every optional capability of a store, so graph.Provenance
// takes its generic path: the reference the native answer is checked
// against.
type plain struct{ audit.Store }

func testProvenance(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, _ := open(t, h, defaultOpts())
	recs := samples(40)
	deep := Sample(40)
	deep.Target, deep.TargetType = "lib/core", audit.TargetModule
	deep.Context = map[string]any{"deep": map[string]any{"list": []any{1, "svc/api"}}, "refers": "nothing"}
	near := Sample(41)
	near.Context = map[string]any{"refers": "svc/api/v2", "n": "svc"} // not the target
	near.Target = "lib/other"
	recs = append(recs, deep, near)
	appendAll(t, inst.Store, recs)
	// Known answer for svc/api: every 4th sample is about it, the samples
	// about README.md (i%4 == 3) refer to it unless confidential, and so
	// does deep.
	var about, refs []string
	for i, r := range recs[:40] {
		switch i % 4 {
		case 0:
			about = append(about, r.RecordID)
		case 3:
			// A record whose values are committed refers to nothing a
			// search can find.
			if len(r.Commitments) == 0 {
				refs = append(refs, r.RecordID)
			}
		}
	}
	refs = append(refs, deep.RecordID)
	n, err := graph.Provenance(ctx, inst.Store, "svc/api", -1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(about, ids(n.Records)); diff != "" {
		t.Errorf("records about svc/api (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(refs, ids(n.References)); diff != "" {
		t.Errorf("records referring to svc/api (-want +got):\n%s", diff)
	}
	timeEq := cmp.Comparer(func(a, b interface{ UnixNano() int64 }) bool { return a.UnixNano() == b.UnixNano() })
	for _, target := range append(targets, "lib/other", "nowhere") {
		for _, limit := range []int{-1, 3} {
			got, err := graph.Provenance(ctx, inst.Store, target, limit)
			if err != nil {
				t.Fatal(err)
			}
			want, err := graph.Provenance(ctx, plain{inst.Store}, target, limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ids(want.Records), ids(got.Records)); diff != "" {
				t.Errorf("%s limit %d: records (-generic +native):\n%s", target, limit, diff)
			}
			if diff := cmp.Diff(ids(want.References), ids(got.References)); diff != "" {
				t.Errorf("%s limit %d: references (-generic +native):\n%s", target, limit, diff)
			}
			if diff := cmp.Diff(want.Actors, got.Actors, timeEq); diff != "" {
				t.Errorf("%s limit %d: actors (-generic +native):\n%s", target, limit, diff)
			}
		}
	}
}
