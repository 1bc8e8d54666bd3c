package log

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

// collect runs the source over target and returns its records (each
// checked by Validate, as the store would) and summary.
func collect(t *testing.T, cfg Config, target string) ([]*audit.Record, *Summary) {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*audit.Record
	sum, err := src.Run(context.Background(), target, func(r *audit.Record) error {
		if err := r.Validate(); err != nil {
			t.Errorf("invalid record %s %s: %v", r.Action, r.Target, err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Run(%s): %v", target, err)
	}
	return recs, sum
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fileFacts are the known answers for one fixture file.
type fileFacts struct {
	Format                                  Format
	Lines, Entries                          int64
	Levels                                  [5]int64 // debug info warning error critical
	Continuation, Malformed, Untimed, Blank int64
	First, Last                             string
	Compression                             string
}

func facts(f *FileSummary) fileFacts {
	ff := fileFacts{
		Format: f.Format, Lines: f.Lines, Entries: f.Entries, Levels: f.Levels,
		Continuation: f.Continuation, Malformed: f.Malformed, Untimed: f.Untimed, Blank: f.Blank,
		Compression: f.Compression,
	}
	if !f.First.IsZero() {
		ff.First, ff.Last = f.First.Format(time.RFC3339Nano), f.Last.Format(time.RFC3339Nano)
	}
	return ff
}

func TestFormatsKnownAnswers(t *testing.T) {
	dir := filepath.Join("testdata", "formats")
	want := map[string]fileFacts{
		"app.json.log": {Format: FormatJSON, Lines: 23, Entries: 22,
			// 10 info + "odd level name" (unknown level: info); 1 debug (epoch ts);
			// the cut last line is malformed and has no message: not an entry
			Levels: [5]int64{1, 11, 3, 6, 1}, Malformed: 1,
			First: "2025-11-01T09:00:00.5Z", Last: "2025-11-01T09:04:00.25Z"},
		"app.json.log.1.gz": {Format: FormatJSON, Lines: 4, Entries: 4, Levels: [5]int64{0, 0, 0, 4, 0},
			First: "2025-10-31T23:59:00Z", Last: "2025-10-31T23:59:03Z", Compression: "gzip"},
		"agent.loguru.log": {Format: FormatLoguru, Lines: 11, Entries: 7, Levels: [5]int64{1, 2, 1, 2, 1},
			Continuation: 3, Blank: 1, First: "2025-12-01T10:00:00.123Z", Last: "2025-12-01T10:00:11Z"},
		"api.logfmt": {Format: FormatLogfmt, Lines: 6, Entries: 6, Levels: [5]int64{1, 1, 1, 3, 0},
			First: "2025-11-01T09:00:00Z", Last: "2025-11-01T09:00:09Z"},
		// zones +01:00, none (UTC assumed), -05:00, Z: all normalised to UTC
		"worker.log": {Format: FormatPlain, Lines: 6, Entries: 5, Levels: [5]int64{0, 2, 1, 2, 0},
			Continuation: 1, First: "2025-11-01T09:00:00Z", Last: "2025-11-01T09:30:00.123Z"},
		// "Command:" comes before any time; ERRORS section lines are errors
		"agent-cli/exec-1234.log": {Format: FormatSectioned, Lines: 12, Entries: 8, Levels: [5]int64{0, 6, 1, 1, 0},
			Untimed: 1, First: "2025-11-02T08:00:00Z", Last: "2025-11-02T08:05:00Z"},
		"notes.txt": {Format: FormatText, Lines: 4, Entries: 4, Levels: [5]int64{0, 2, 0, 1, 1}, Untimed: 4},
		"transcripts/2025-10-27/s-1.jsonl": {Format: FormatTranscript, Lines: 4, Entries: 4, Levels: [5]int64{0, 3, 0, 1, 0},
			First: "2025-10-27T11:00:00Z", Last: "2025-10-27T11:00:03Z"},
	}
	recs, sum := collect(t, Config{Root: dir}, dir)
	got := map[string]fileFacts{}
	for _, f := range sum.Files {
		got[f.Path] = facts(f) // named relative to the root
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("file facts (-want +got):\n%s", diff)
	}
	// one summary record per file, naming the format and why
	n := 0
	for _, r := range recs {
		if r.Action != ActionFile {
			continue
		}
		n++
		if r.Context["format"] == "" || !strings.Contains(r.Context["format_reason"].(string), "of the first") {
			t.Errorf("%s: format %v, reason %q", r.Target, r.Context["format"], r.Context["format_reason"])
		}
	}
	if n != len(want) {
		t.Errorf("%d file records, want %d", n, len(want))
	}
}

func TestTemplatesKnownAnswers(t *testing.T) {
	_, sum := collect(t, Config{Level: audit.SeverityWarning}, filepath.Join("testdata", "formats"))
	got := map[string]int64{}
	for _, p := range sum.Patterns {
		got[p.Template] = p.Count
	}
	want := map[string]int64{
		"timeout after <*> on host <*>":                      10, // 6 in app.json.log, 4 in the rotated .gz
		"retrying request <*> attempt <*> of <*>":            3,
		"tool call failed: exit status <*>":                  2,
		"upstream <*> returned <*>":                          2,
		"disk full on <*>":                                   2, // +01:00 and -05:00 lines
		"WARNING: context almost full":                       1,
		"permission denied writing <*>":                      1,
		"retry <*> after <*>":                                1,
		"worker <*> crashed":                                 1,
		"slow request GET <*> took <*>":                      1,
		"login failed password=<*> user=bob":                 1, // masked when recorded
		"database connection lost to <*>":                    1,
		"ERROR could not bind socket":                        1,
		"FATAL: out of memory":                               1,
		"user: tool_result error: make: *** [all] Error <*>": 1,
		"queue depth <*> exceeds <*>":                        1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
	for _, p := range sum.Patterns {
		if p.Template == "timeout after <*> on host <*>" {
			if len(p.Files) != 2 || p.First != at("2025-10-31T23:59:00Z") || p.Last != at("2025-11-01T09:01:05Z") || len(p.Examples) != 3 {
				t.Errorf("timeout pattern: files %v first %v last %v examples %d", p.Files, p.First, p.Last, len(p.Examples))
			}
		}
	}
	if sum.Mined != 30 {
		t.Errorf("mined %d entries, want 30 (warning and above)", sum.Mined)
	}
}

func TestLevelFilter(t *testing.T) {
	_, sum := collect(t, Config{Level: audit.SeverityCritical}, filepath.Join("testdata", "formats"))
	var got []string
	for _, p := range sum.Patterns {
		got = append(got, p.Template)
	}
	slices.Sort(got)
	want := []string{"FATAL: out of memory", "database connection lost to <*>", "worker <*> crashed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("critical patterns (-want +got):\n%s", diff)
	}
	// per-level counts still cover every level
	if sum.Levels != [5]int64{3, 27, 7, 20, 3} {
		t.Errorf("levels %v", sum.Levels)
	}
}

func TestBursts(t *testing.T) {
	tests := []struct {
		name   string
		target string
		cfg    Config
		want   []Burst
	}{
		{"one file", "testdata/burst", Config{}, []Burst{{
			Start: at("2025-11-03T12:00:00Z"), End: at("2025-11-03T12:00:48Z"), Errors: 25, Peak: 25,
			Dominant: []DominantPattern{{ID: 2, Template: "upstream <*> returned <*>", AtLeast: 25}},
		}}},
		// 25 errors 2 s apart: at most 15 fall in any 30 s window
		{"window too short", "testdata/burst", Config{BurstWindow: 30 * time.Second}, nil},
		{"lower threshold", "testdata/burst", Config{BurstWindow: 30 * time.Second, BurstMin: 15}, []Burst{{
			Start: at("2025-11-03T12:00:00Z"), End: at("2025-11-03T12:00:48Z"), Errors: 25, Peak: 15,
			Dominant: []DominantPattern{{ID: 2, Template: "upstream <*> returned <*>", AtLeast: 25}},
		}}},
		// 12 errors in each file: a burst only on the merged timeline
		{"correlated across files", "testdata/correlated", Config{}, []Burst{{
			Start: at("2025-11-04T08:00:00Z"), End: at("2025-11-04T08:00:57Z"), Errors: 24, Peak: 24,
			Dominant: []DominantPattern{
				{ID: 1, Template: "checkout <*> failed: payment declined", AtLeast: 12},
				{ID: 2, Template: "payment <*> declined by gateway", AtLeast: 12},
			},
		}}},
		{"one of the correlated files", "testdata/correlated/payments.log", Config{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, sum := collect(t, tt.cfg, tt.target)
			if diff := cmp.Diff(tt.want, sum.Bursts); diff != "" {
				t.Errorf("bursts (-want +got):\n%s", diff)
			}
			n := 0
			for _, r := range recs {
				if r.Action == ActionBurst {
					n++
					if r.Severity != audit.SeverityError || r.Context["errors"] == nil {
						t.Errorf("burst record: %v %v", r.Severity, r.Context)
					}
				}
			}
			if n != len(tt.want) {
				t.Errorf("%d burst records, want %d", n, len(tt.want))
			}
		})
	}
}

func TestTimeWindowEdges(t *testing.T) {
	first, last := at("2025-11-03T12:00:00Z"), at("2025-11-03T12:00:48Z")
	tests := []struct {
		name         string
		since, until time.Time
		entries      int64
		outside      int64
		first, last  time.Time
	}{
		{"no window", time.Time{}, time.Time{}, 31, 0, at("2025-11-03T00:30:00Z"), at("2025-11-03T12:05:00Z")},
		// since is inclusive: the line at exactly since is in
		{"since at a line", first, time.Time{}, 26, 5, first, at("2025-11-03T12:05:00Z")},
		{"since just after", first.Add(time.Nanosecond), time.Time{}, 25, 6, at("2025-11-03T12:00:02Z"), at("2025-11-03T12:05:00Z")},
		// until is exclusive: the line at exactly until is out
		{"until at a line", time.Time{}, last, 29, 2, at("2025-11-03T00:30:00Z"), at("2025-11-03T12:00:46Z")},
		{"until just after", time.Time{}, last.Add(time.Nanosecond), 30, 1, at("2025-11-03T00:30:00Z"), last},
		{"both", first, last, 24, 7, first, at("2025-11-03T12:00:46Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sum := collect(t, Config{Since: tt.since, Until: tt.until}, "testdata/burst/service.log")
			f := sum.Files[0]
			if f.InWindow != tt.entries || f.OutsideWindow != tt.outside || !f.First.Equal(tt.first) || !f.Last.Equal(tt.last) {
				t.Errorf("in window %d, outside %d, %v – %v; want %d, %d, %v – %v",
					f.InWindow, f.OutsideWindow, f.First, f.Last, tt.entries, tt.outside, tt.first, tt.last)
			}
		})
	}
	t.Run("untimed entries leave with a window", func(t *testing.T) {
		_, sum := collect(t, Config{Since: at("2000-01-01T00:00:00Z")}, "testdata/formats/notes.txt")
		f := sum.Files[0]
		if f.InWindow != 0 || f.OutsideWindow != 4 || len(sum.Patterns) != 0 {
			t.Errorf("in window %d, outside %d, patterns %d; want 0, 4, 0", f.InWindow, f.OutsideWindow, len(sum.Patterns))
		}
		if !slices.ContainsFunc(f.Warnings, func(w string) bool { return strings.Contains(w, "no timestamps") }) {
			t.Errorf("no warning about missing timestamps: %q", f.Warnings)
		}
	})
}

func TestEach(t *testing.T) {
	recs, sum := collect(t, Config{Each: true, Level: audit.SeverityError}, "testdata/formats/agent.loguru.log")
	var lines []string
	for _, r := range recs {
		if r.Action == ActionEntry {
			lines = append(lines, r.Timestamp.Format(time.RFC3339Nano)+" "+string(r.Severity)+" "+r.Context["message"].(string))
		}
	}
	want := []string{
		"2025-12-01T10:00:02.5Z error tool call failed: exit status 2",
		"2025-12-01T10:00:09Z error tool call failed: exit status 127",
		"2025-12-01T10:00:11Z critical worker 7 crashed",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("entry records (-want +got):\n%s", diff)
	}
	if int(sum.Mined) != len(want) {
		t.Errorf("mined %d", sum.Mined)
	}
}

func TestEvictionKeepsEveryLine(t *testing.T) {
	recs, sum := collect(t, Config{MaxPatterns: 3, Level: audit.SeverityDebug}, "testdata/formats")
	var total int64
	evicted := 0
	for _, r := range recs {
		if r.Action == ActionPattern {
			total += r.Context["count"].(int64)
			if r.Context["evicted"] == true {
				evicted++
			}
		}
	}
	if total != sum.Mined || sum.Mined != sum.Entries {
		t.Errorf("pattern records count %d lines, mined %d, entries %d", total, sum.Mined, sum.Entries)
	}
	if int64(evicted) != sum.EvictedPatterns || evicted == 0 || len(sum.Patterns) != 3 {
		t.Errorf("evicted records %d, summary %d, held %d", evicted, sum.EvictedPatterns, len(sum.Patterns))
	}
}

func TestRealTranscript(t *testing.T) {
	_, sum := collect(t, Config{}, "testdata/transcript-real/real_case_1_0e02ced7-827.jsonl")
	f := sum.Files[0]
	if f.Format != FormatTranscript || f.Entries != 25 || f.Malformed != 0 || f.Untimed != 0 {
		t.Errorf("format %s, entries %d, malformed %d, untimed %d", f.Format, f.Entries, f.Malformed, f.Untimed)
	}
	if f.First != at("2025-10-27T11:08:51.177Z") || f.Last != at("2025-10-27T11:09:29.186Z") {
		t.Errorf("range %v – %v", f.First, f.Last)
	}
}

func TestService(t *testing.T) {
	root := filepath.Join("testdata", "manifest")
	tests := []struct {
		service string
		want    []string
	}{
		// by directory, by container name (ami-postgres, from the compose
		// file), by compose service name followed by a date
		{"data-postgres", []string{"ami-postgres.log.1", "data-postgres/postgresql.log", "postgres-2025-11-05.log.gz"}},
		{"data-redis", []string{"ami-redis.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			_, sum := collect(t, Config{Service: tt.service, Root: root}, filepath.Join(root, "logs"))
			var got []string
			for _, f := range sum.Files {
				got = append(got, strings.TrimPrefix(f.Path, "logs/")) // relative to the root
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
	names, err := ServiceNames("", root, "data-postgres")
	if err != nil || !slices.Equal(names, []string{"data-postgres", "postgres", "ami-postgres"}) {
		t.Errorf("names %v, %v", names, err)
	}
	src, _ := New(Config{Service: "nope", Root: root})
	if _, err := src.Run(context.Background(), root, func(*audit.Record) error { return nil }); err == nil || !strings.Contains(err.Error(), `unknown service "nope"`) {
		t.Errorf("unknown service: %v", err)
	}
	src, _ = New(Config{Service: "data-mongo", Root: root})
	if _, err := src.Run(context.Background(), filepath.Join(root, "logs"), func(*audit.Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "no log files for service data-mongo") {
		t.Errorf("service without logs: %v", err)
	}
}

func TestServiceMatcher(t *testing.T) {
	m := ServiceMatcher([]string{"data-postgres", "postgres", "ami-postgres"})
	for path, want := range map[string]bool{
		"data-postgres.log":        true,
		"postgres/x.log":           true,
		"a/data-postgres/b/c.txt":  true,
		"ami-postgres.log.3.gz":    true,
		"postgres-2025-01-01.log":  true,
		"postgres_7.err":           true,
		"postgres-exporter.log":    false,
		"postgresql.log":           false,
		"other/x.log":              false,
		"my-data-postgres.log":     false,
		"data-postgres-backup.log": false,
	} {
		if got := m(path); got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
}
