package log

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// TestIncremental: a second run over unchanged logs emits nothing, however
// the directory is spelled; a new line emits exactly the records it
// changes.
func TestIncremental(t *testing.T) {
	repo := t.TempDir()
	os.Mkdir(filepath.Join(repo, ".git"), 0o755)
	logs := filepath.Join(repo, "logs")
	os.Mkdir(logs, 0o755)
	app := filepath.Join(logs, "app.log")
	os.WriteFile(app, []byte("2024-05-01 10:00:00 ERROR disk full on sda\n2024-05-01 10:00:01 ERROR disk full on sdb\n"), 0o644)
	os.WriteFile(filepath.Join(logs, "other.log"), []byte("2024-05-01 10:00:00 WARNING slow request 12ms\n"), 0o644)
	t.Chdir(repo)

	trail := &memtrail.Trail{}
	run := func(target string) []*audit.Record {
		t.Helper()
		src, err := New(Config{Trail: trail, Each: true, Level: audit.SeverityDebug})
		if err != nil {
			t.Fatal(err)
		}
		var recs []*audit.Record
		if _, err := src.Run(context.Background(), target, func(r *audit.Record) error { recs = append(recs, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			if err := trail.Append(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
		}
		return recs
	}
	first := run("logs")
	if len(first) == 0 {
		t.Fatal("first run recorded nothing")
	}
	for _, r := range first {
		if r.Target != "logs" && r.Target != "logs/app.log" && r.Target != "logs/other.log" {
			t.Errorf("target %q is not relative to the repository", r.Target)
		}
	}
	for _, spelling := range []string{"logs/", "./logs", logs, "logs"} {
		if again := run(spelling); len(again) != 0 {
			t.Errorf("run over %q re-recorded %d records, first %s %s", spelling, len(again), again[0].Action, again[0].Target)
		}
	}
	// A run with other filters in between records what it sees; the
	// first filters' next run still appends nothing.
	src, _ := New(Config{Trail: trail, Level: audit.SeverityError})
	var other []*audit.Record
	src.Run(context.Background(), ".", func(r *audit.Record) error { other = append(other, r); return nil })
	trail.Append(context.Background(), other)
	if again := run("logs"); len(again) != 0 {
		t.Errorf("after a run with other filters, %d records again", len(again))
	}
	f, _ := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("2024-05-01 10:00:02 ERROR disk full on sdc\n")
	f.Close()
	got := map[string]int{}
	for _, r := range run("logs") {
		got[r.Action+" "+r.Target]++
	}
	want := map[string]int{"log_file_summary logs/app.log": 1, "log_pattern logs": 1, "log_entry logs/app.log": 1}
	if len(got) != len(want) {
		t.Errorf("after one new line: %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("after one new line: %v, want %v", got, want)
			break
		}
	}
	// A line of a new kind in the first file is mined before the other
	// file's lines, so the patterns after it are numbered anew: only what
	// changed is recorded, nothing about the other file.
	f, _ = os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("2024-05-01 10:00:03 ERROR certificate expired for host api\n")
	f.Close()
	got = map[string]int{}
	for _, r := range run("logs") {
		got[r.Action+" "+r.Target]++
		if r.Action == "log_pattern" {
			if tmpl, _ := r.Context["template"].(string); tmpl != "certificate expired for host api" {
				t.Errorf("pattern %q recorded again", tmpl)
			}
		}
	}
	want = map[string]int{"log_file_summary logs/app.log": 1, "log_pattern logs": 1, "log_entry logs/app.log": 1}
	if !maps.Equal(got, want) {
		t.Errorf("after a line of a new kind: %v, want %v", got, want)
	}
}
