package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
)

// TestNewestByTarget: for each target, the newest record of the actions
// at each time, whatever the number of targets (more than a batch).
func TestNewestByTarget(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "audit.db"), nil)
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*audit.Record
	add := func(action, target string, day int) {
		r := audit.New("x", action, target, audit.TargetFile)
		r.Timestamp = t0.Add(time.Duration(day) * 24 * time.Hour)
		recs = append(recs, r)
	}
	for i := range 300 {
		target := "f" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		add("hash", target, 0)
		if i%2 == 0 {
			add("hash", target, 2)
		}
		if i%3 == 0 {
			add("removed", target, 4)
		}
		add("other", target, 5) // another action: never read
	}
	add("hash", "late", 10)
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	at := []time.Time{t0.Add(-time.Hour), t0.Add(3 * 24 * time.Hour), {}}
	at[2] = t0.Add(100 * 24 * time.Hour)
	got := map[string][]string{}
	for rs, err := range s.NewestByTarget(ctx, []string{"hash", "removed"}, at, nil) {
		if err != nil {
			t.Fatal(err)
		}
		var row []string
		target := ""
		for _, r := range rs {
			if r == nil {
				row = append(row, "-")
				continue
			}
			target = r.Target
			row = append(row, r.Action+"@"+r.Timestamp.Format("02"))
		}
		if _, dup := got[target]; dup {
			t.Fatalf("%s yielded twice", target)
		}
		got[target] = row
	}
	if len(got) != 301 {
		t.Fatalf("%d targets", len(got))
	}
	want := map[string][]string{
		"fAa":  {"-", "hash@03", "removed@05"}, // i=0: hashed twice, removed
		"fBa":  {"-", "hash@01", "hash@01"},    // i=1
		"fCa":  {"-", "hash@03", "hash@03"},    // i=2
		"fDa":  {"-", "hash@01", "removed@05"}, // i=3
		"late": {"-", "-", "hash@11"},
	}
	for k, w := range want {
		if diff := cmp.Diff(w, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	if !slices.Equal(got["fAa"], got["fGa"]) {
		t.Errorf("i=0 and i=6 differ: %v %v", got["fAa"], got["fGa"])
	}
}

// The grouped query reads the rows of its actions through the action's
// index, never the whole table.
func TestNewestQueryPlan(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "audit.db"), nil)
	defer s.Close()
	q, args := newestQuery([]string{"file_hash", "file_removed"}, []time.Time{time.Now(), time.Now()})
	plan := queryPlan(t, s, q, args...)
	if !strings.Contains(plan, "USING INDEX records_action") || strings.Contains(plan, "SCAN records") {
		t.Errorf("plan %q", plan)
	}
}
