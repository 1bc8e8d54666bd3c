package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// storedByAction reads the records of the trail in auditDir by action.
func storedByAction(t *testing.T, auditDir string) map[string][]*audit.Record {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(auditDir, dbFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string][]*audit.Record{}
	for r, err := range s.Query(ctx, audit.Filter{TargetType: audit.TargetLog, Limit: -1}) {
		if err != nil {
			t.Fatal(err)
		}
		out[r.Action] = append(out[r.Action], r)
	}
	return out
}

func section(t *testing.T, r *report.Report, title string) *report.Section {
	t.Helper()
	for i := range r.Sections {
		if r.Sections[i].Title == title {
			return &r.Sections[i]
		}
	}
	t.Fatalf("report has no %q section", title)
	return nil
}

func TestLogsCommand(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "logs", "app"))
	if err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(t.TempDir(), "trail")
	code, out, errOut := runCLI(t, "--audit-dir", auditDir, "logs", "--dir", dir, "--format=json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := gitReportJSON(t, out)
	for label, want := range map[string]string{
		"Files":            "2",
		"Formats":          "json 1, loguru 1",
		"Lines":            "50",
		"Entries":          "49",
		"Error":            "34",
		"Warning":          "5",
		"Info":             "10",
		"Time range":       "2025-11-03 12:00:00Z – 2025-11-03 14:00:09Z",
		"Patterns":         "3",
		"Bursts":           "1",
		"Records appended": "6", // 2 files, 3 patterns, 1 burst
	} {
		if got := summaryValue(t, r, label); got != want {
			t.Errorf("%s = %q, want %q", label, got, want)
		}
	}
	pats := section(t, r, "Top patterns")
	var got [][]string
	for _, row := range pats.Rows {
		got = append(got, row[:3])
	}
	want := [][]string{
		{"30", "error", "upstream <*> returned <*>"},
		// +01:00 timestamps are shown in UTC
		{"5", "warning", "slow request took <*>"},
		{"4", "error", "job <*> failed after <*> retries"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patterns (-want +got):\n%s", diff)
	}
	if b := section(t, r, "Error bursts"); len(b.Rows) != 1 || b.Rows[0][0] != "2025-11-03 12:00:00Z" || b.Rows[0][2] != "30" {
		t.Errorf("bursts %v", b.Rows)
	}
	if c := section(t, r, "Errors over time").Chart; c == nil || slices.Max(c.Values) == 0 {
		t.Errorf("timeline chart %+v", c)
	}
	stored := storedByAction(t, auditDir)
	if len(stored["log_file_summary"]) != 2 || len(stored["log_pattern"]) != 3 || len(stored["log_error_burst"]) != 1 {
		t.Errorf("trail holds %d file, %d pattern, %d burst records", len(stored["log_file_summary"]), len(stored["log_pattern"]), len(stored["log_error_burst"]))
	}
	for _, rec := range stored["log_file_summary"] {
		if rec.Source != "log_source" || rec.Context["format"] == nil || rec.Context["format_reason"] == nil {
			t.Errorf("file record %+v", rec)
		}
	}
	if code, _, errOut := runCLI(t, "--audit-dir", auditDir, "verify"); code != exitOK {
		t.Errorf("verify after logs: exit %d: %s", code, errOut)
	}

	// level, time window (since inclusive, until exclusive) and --each
	auditDir2 := filepath.Join(t.TempDir(), "trail")
	code, out, errOut = runCLI(t, "--audit-dir", auditDir2, "logs", "--dir", dir, "--format=json", "--each",
		"--level=ERROR", "--since=2025-11-03T12:00:10Z", "--until=2025-11-03T12:30:02Z")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r = gitReportJSON(t, out)
	// errors at 12:00:10 … 12:00:58 (25) and jobs 0 and 1 at 12:30:00-01
	if got := summaryValue(t, r, "Error"); got != "27" {
		t.Errorf("errors in the window = %s, want 27", got)
	}
	stored = storedByAction(t, auditDir2)
	if n := len(stored["log_entry"]); n != 27 {
		t.Errorf("%d log_entry records, want 27", n)
	}
	first := stored["log_entry"][0]
	if first.Timestamp != time.Date(2025, 11, 3, 12, 0, 10, 0, time.UTC) || first.Severity != audit.SeverityError {
		t.Errorf("first entry record %v %s", first.Timestamp, first.Severity)
	}

	// Markdown
	code, out, errOut = runCLI(t, "--audit-dir", auditDir2, "logs", "--dir", dir, "--format=markdown")
	if code != exitOK {
		t.Fatalf("markdown: exit %d: %s", code, errOut)
	}
	for _, s := range []string{"Top patterns", "Error bursts", "Errors over time", `upstream \<\*\> returned \<\*\>`, "loguru"} {
		if !strings.Contains(out, s) {
			t.Errorf("markdown report lacks %q", s)
		}
	}
}

func TestLogsService(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("testdata", "logs", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(t.TempDir(), "trail")
	t.Chdir(filepath.Join(repo, "logs")) // the manifest is found above
	code, out, errOut := runCLI(t, "--audit-dir", auditDir, "logs", "--service=data-postgres", "--format=json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := gitReportJSON(t, out)
	if r.Title != "Logs of service data-postgres" {
		t.Errorf("title %q", r.Title)
	}
	var files []string
	for _, row := range section(t, r, "Files").Rows {
		files = append(files, row[0])
	}
	if diff := cmp.Diff([]string{"ami-postgres.log", "db/postgres-2025-11-05.log"}, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	stored := storedByAction(t, auditDir)
	for _, rec := range stored["log_pattern"] {
		if rec.Actor != "data-postgres" || rec.Context["service"] != "data-postgres" {
			t.Errorf("pattern record actor %q service %v", rec.Actor, rec.Context["service"])
		}
	}
}

func TestLogsErrors(t *testing.T) {
	dir := filepath.Join("testdata", "logs", "app")
	repo, _ := filepath.Abs(filepath.Join("testdata", "logs", "repo"))
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad level", []string{"--dir", dir, "--level=loud"}, exitUsage, "--level"},
		{"bad date", []string{"--dir", dir, "--since=whenever"}, exitUsage, "--since"},
		{"window backwards", []string{"--dir", dir, "--since=2025-01-02", "--until=2025-01-01"}, exitUsage, "since"},
		{"bad zone", []string{"--dir", dir, "--tz=Mars/Olympus"}, exitUsage, "--tz"},
		{"missing dir", []string{"--dir", filepath.Join(dir, "nope")}, exitError, "nope"},
		{"unknown service", []string{"--service=nope", "--manifest", filepath.Join(repo, "scripts", "services.yaml"), "--dir", filepath.Join(repo, "logs")}, exitUsage, `unknown service "nope"`},
		{"service without logs", []string{"--service=web", "--manifest", filepath.Join(repo, "scripts", "services.yaml"), "--dir", dir}, exitError, "no log files for service web"},
		{"bad format", []string{"--dir", dir, "--format=pdf"}, exitUsage, "pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--audit-dir", filepath.Join(t.TempDir(), "trail"), "logs"}, tt.args...)
			code, _, errOut := runCLI(t, args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
}
