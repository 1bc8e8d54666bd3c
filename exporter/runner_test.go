package exporter_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
)

// flaky delivers into got, failing the calls whose number is in fail.
type flaky struct {
	got   exportertest.Received
	calls int
	fail  map[int]bool
}

func (f *flaky) Export(_ context.Context, recs []*audit.Record) error {
	f.calls++
	if f.fail[f.calls] {
		return errors.New("receiver down")
	}
	for _, r := range recs {
		f.got.Add(r.RecordID)
	}
	return nil
}

func (f *flaky) Close() error { return nil }

func noSleep(context.Context, time.Duration) error { return nil }

// TestRunnerResumes: failed batches are retried, the cursor moves past
// what was delivered and what the filter leaves out, and a second run
// with the same cursor sends only what was appended since.
func TestRunnerResumes(t *testing.T) {
	s := exportertest.Store(t, 1000)
	cur := &exporter.Cursor{Path: filepath.Join(t.TempDir(), "x.cursor"), LogID: "L"}
	f := audit.Filter{Severity: audit.SeverityError}
	ex := &flaky{fail: map[int]bool{2: true, 3: true, 7: true}}
	run := &exporter.Runner{Store: s, Exporter: ex, Cursor: cur, Filter: f, BatchSize: 50, Sleep: noSleep}
	st, err := run.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ex.got.Check(t, s, f, 0)
	if st.Next != 1000 || st.Passed+st.Exported != 1000 {
		t.Fatalf("stats %+v", st)
	}
	next, ok, err := cur.Load()
	if err != nil || !ok || next != 1000 {
		t.Fatalf("cursor %d %v %v", next, ok, err)
	}
	// a new run with nothing appended since sends nothing
	ex2 := &flaky{}
	st, err = (&exporter.Runner{Store: s, Exporter: ex2, Cursor: cur, Filter: f, Sleep: noSleep}).Run(context.Background())
	if err != nil || st.Exported != 0 || ex2.calls != 0 {
		t.Fatalf("second run over nothing new: %+v %v, %d calls", st, err, ex2.calls)
	}
}

// TestRunnerGivesUp: without --follow, a destination that stays down
// ends the run with an error after the retries, the cursor at the last
// delivered batch.
func TestRunnerGivesUp(t *testing.T) {
	s := exportertest.Store(t, 300)
	cur := &exporter.Cursor{Path: filepath.Join(t.TempDir(), "x.cursor"), LogID: "L"}
	fail := map[int]bool{}
	for i := 3; i < 100; i++ {
		fail[i] = true
	}
	ex := &flaky{fail: fail}
	_, err := (&exporter.Runner{Store: s, Exporter: ex, Cursor: cur, BatchSize: 100, Retries: 3, Sleep: noSleep}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gave up after 4 tries") {
		t.Fatalf("err %v", err)
	}
	if next, _, _ := cur.Load(); next != 200 {
		t.Fatalf("cursor at %d, want 200", next)
	}
}

// TestCursorOfAnotherLog: a cursor belongs to one log.
func TestCursorOfAnotherLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.cursor")
	if err := (&exporter.Cursor{Path: p, LogID: "A"}).Save(5); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&exporter.Cursor{Path: p, LogID: "B"}).Load(); err == nil || !strings.Contains(err.Error(), "log A") {
		t.Fatalf("err %v", err)
	}
	if a, b := exporter.CursorName("A", "syslog://h:514"), exporter.CursorName("A", "syslog://h:6514"); a == b {
		t.Fatal("two destinations share a cursor")
	}
	if n := exporter.CursorName("A", "https://hooks.slack.com/services/T0/B0/SECRET"); strings.Contains(n, "SECRET") {
		t.Fatalf("cursor name %s shows the webhook's secret", n)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/SECRET": "https://hooks.slack.com/…",
		"https://user:pw@example.com/hook?token=x":      "https://example.com/…",
		"syslog://siem:6514":                            "syslog://siem:6514",
		"smtp://bob:hunter2@mail:587":                   "smtp://bob:xxxxx@mail:587",
	} {
		if got := exporter.Redact(in); got != want {
			t.Errorf("Redact(%s) = %s, want %s", in, got, want)
		}
	}
}
