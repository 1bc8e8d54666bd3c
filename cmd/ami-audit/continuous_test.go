package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// amiProcess starts "ami-audit ARGS" in dir; stop sends SIGTERM and
// returns its stderr after it exits, failing on a non-zero exit.
func amiProcess(t *testing.T, dir string, args ...string) (stop func() string) {
	t.Helper()
	cmd := exec.Command("ami-audit", args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return func() string {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("ami-audit %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return errb.String()
	}
}

// run1 runs "ami-audit ARGS" in dir and returns its output, failing
// unless it exits 0.
func run1(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return mustAmi(t, dir, nil, "", args...)
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func countLines(s string) int { return strings.Count(s, "\n") }

// trailWithLog makes a trail in a new directory, and logs/api.log there,
// open for appending.
func trailWithLog(t *testing.T) (dir string, f *os.File) {
	t.Helper()
	dir = t.TempDir()
	run1(t, dir, "init")
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	f, err := os.OpenFile(filepath.Join(logs, "api.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return dir, f
}

// TestWatchLogs runs "watch --logs" as a process: lines appended while it
// runs are recorded, a SIGTERM stops it cleanly, lines written while it
// is stopped are recorded after a restart, and nothing twice.
func TestWatchLogs(t *testing.T) {
	dir, f := trailWithLog(t)
	n := 0
	write := func(k int) {
		for range k {
			n++
			fmt.Fprintf(f, "2025-12-01 10:00:%02d.123 | ERROR    | api:serve:42 - request %d failed\n", n%60, n)
		}
	}
	write(5) // before the first start: not recorded (read from the end)
	entries := func() int {
		return countLines(run1(t, dir, "query", "--action=log_entry", "--limit=0", "--format=jsonl"))
	}

	stop := amiProcess(t, dir, "watch", "--logs=logs")
	time.Sleep(300 * time.Millisecond)
	write(10)
	waitFor(t, "10 records", func() bool { return entries() == 10 })
	out := stop()
	if !strings.Contains(out, "stopped: 10 records appended") {
		t.Errorf("watch said:\n%s", out)
	}
	write(7) // while stopped
	stop = amiProcess(t, dir, "watch", "--logs=logs")
	waitFor(t, "17 records", func() bool { return entries() == 17 })
	write(3)
	fmt.Fprintf(f, "2025-12-01 10:00:00.123 | ERROR    | api:serve:42 - login with password=hunter2 failed\n")
	waitFor(t, "21 records", func() bool { return entries() == 21 })
	stop()
	if got := entries(); got != 21 {
		t.Fatalf("%d records, want 21", got)
	}
	recs := run1(t, dir, "query", "--action=log_entry", "--limit=0", "--format=jsonl")
	if strings.Contains(recs, "hunter2") || !strings.Contains(recs, "[REDACTED") {
		t.Errorf("the password in a line is not masked in the trail")
	}
	for i := 6; i <= 20; i++ {
		if c := strings.Count(recs, fmt.Sprintf(`"request %d failed"`, i)); c != 1 {
			t.Errorf("line %d recorded %d times", i, c)
		}
	}
	run1(t, dir, "verify")
}

// TestWatchLogsKilled: "watch --logs" killed outright (SIGKILL) while
// lines pour in, and started again: every line is recorded exactly once —
// the positions it had not saved yet are taken from the trail.
func TestWatchLogsKilled(t *testing.T) {
	dir, f := trailWithLog(t)
	const total = 3000
	written := make(chan struct{})
	go func() {
		defer close(written)
		for n := 1; n <= total; n++ {
			fmt.Fprintf(f, `{"level":"info","message":"line %d"}`+"\n", n)
			if n%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i := range 3 {
		cmd := exec.Command("ami-audit", "watch", "--logs=logs", "--from-start")
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+i*70) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
	}
	<-written
	// --from-start: on a loaded machine the killed ones may not have
	// started following (nor saved a position) before they died
	stop := amiProcess(t, dir, "watch", "--logs=logs", "--from-start")
	entries := func() string { return run1(t, dir, "query", "--action=log_entry", "--limit=0", "--format=jsonl") }
	waitFor(t, "every line", func() bool { return countLines(entries()) >= total })
	time.Sleep(200 * time.Millisecond)
	stop()
	recs := entries()
	for n := 1; n <= total; n++ {
		if c := strings.Count(recs, fmt.Sprintf(`"line %d"`, n)); c != 1 {
			t.Fatalf("line %d recorded %d times (%d records for %d lines)", n, c, countLines(recs), total)
		}
	}
}

// TestWatchService runs "watch --service" as a process against a
// service whose health check is a TCP port the test opens and closes: each
// change of state is recorded once, and nothing while it stays the same.
func TestWatchService(t *testing.T) {
	dir := t.TempDir()
	run1(t, dir, "init")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	os.MkdirAll(filepath.Join(dir, "scripts", "config"), 0o755)
	os.WriteFile(filepath.Join(dir, "scripts", "config", "services.yaml"), []byte(fmt.Sprintf(
		"version: 1\nservices:\n  api:\n    health: {tcp: {host: 127.0.0.1, port: %d, timeout: 0.5}}\n  other:\n    health: {tcp: {host: 127.0.0.1, port: 1, timeout: 0.5}}\n", addr.Port)), 0o644)
	states := func() []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(run1(t, dir, "query", "--action=service_state", "--limit=0", "--format=jsonl")), "\n") {
			var r struct {
				Target  string         `json:"target"`
				Context map[string]any `json:"context"`
			}
			if l != "" && json.Unmarshal([]byte(l), &r) == nil {
				out = append(out, fmt.Sprintf("%s:%v", r.Target, r.Context["state"]))
			}
		}
		return out
	}
	stop := amiProcess(t, dir, "watch", "--service=api", "--interval=100ms", "--no-engine")
	waitFor(t, "api up", func() bool { return len(states()) == 1 })
	time.Sleep(300 * time.Millisecond) // unchanged: nothing more
	ln.Close()
	waitFor(t, "api down", func() bool { return len(states()) == 2 })
	ln, err = net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	waitFor(t, "api up again", func() bool { return len(states()) == 3 })
	time.Sleep(300 * time.Millisecond)
	stop()
	if got := fmt.Sprint(states()); got != "[api:up api:down api:up]" {
		t.Errorf("states recorded: %s", got)
	}
}

// TestExportFollow runs "export --to=webhook --follow" as a process: the
// records appended by another process while it runs reach the endpoint,
// with the token from the environment; a restart sends nothing again.
func TestExportFollow(t *testing.T) {
	dir := t.TempDir()
	run1(t, dir, "init")
	run1(t, dir, "record", "--actor", "ci", "--action", "deploy", "--target", "svc/a", "--target-type", "service")
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		var env struct {
			Records []struct {
				Action string `json:"action"`
			} `json:"records"`
		}
		json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		for _, rec := range env.Records {
			got[rec.Action]++
		}
		mu.Unlock()
	}))
	defer srv.Close()
	count := func(action string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[action]
	}
	t.Setenv("AMI_AUDIT_WEBHOOK_TOKEN", "s3cret")
	t.Setenv("AMI_AUDIT_WEBHOOK_URL", srv.URL+"/hook")
	stop := amiProcess(t, dir, "export", "--to=webhook", "--follow", "--poll=50ms")
	waitFor(t, "the record appended before", func() bool { return count("deploy") == 1 })
	run1(t, dir, "record", "--actor", "ci", "--action", "rollback", "--target", "svc/a", "--target-type", "service")
	waitFor(t, "the record appended meanwhile", func() bool { return count("rollback") == 1 })
	out := stop()
	if strings.Contains(out, "s3cret") {
		t.Errorf("the token is in the output:\n%s", out)
	}
	run1(t, dir, "export", "--to=webhook")
	if count("deploy") != 1 || count("rollback") != 1 {
		t.Errorf("sent again after a restart: %v", got)
	}
	cursors, _ := filepath.Glob(filepath.Join(dir, ".audit", "exporters", "*.cursor"))
	if len(cursors) != 1 {
		t.Errorf("cursors %v", cursors)
	}
}

// TestScheduleProcess runs "schedule" as a process: a job every second is
// run and recorded until SIGTERM; after a pause, a restart records the
// runs missed meanwhile and runs the job once for them.
func TestScheduleProcess(t *testing.T) {
	dir := t.TempDir()
	run1(t, dir, "init")
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte("2025-12-01 10:00:00.123 | ERROR    | m:f:1 - boom\n"), 0o644)
	cfg, err := os.OpenFile(filepath.Join(dir, ".audit", "config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(cfg, "schedules:\n  - name: logs\n    cron: \"@every 1s\"\n    run: logs --dir=logs\n")
	cfg.Close()
	runs := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(run1(t, dir, "query", "--target=schedule/logs", "--limit=0", "--format=jsonl")), "\n") {
			if l == "" {
				continue
			}
			var r map[string]any
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	stop := amiProcess(t, dir, "schedule", "--grace=500ms")
	waitFor(t, "two runs", func() bool { return len(runs()) >= 2 })
	stop()
	for _, r := range runs() {
		c := r["context"].(map[string]any)
		if r["action"] != "scheduled_run" || c["outcome"] != "success" || c["started"] == nil || c["ended"] == nil {
			t.Errorf("run record %v", r)
		}
	}
	time.Sleep(2500 * time.Millisecond)
	stop = amiProcess(t, dir, "schedule", "--grace=500ms")
	waitFor(t, "the missed runs", func() bool {
		for _, r := range runs() {
			if r["action"] == "scheduled_run_missed" {
				return true
			}
		}
		return false
	})
	stop()
	var missed map[string]any
	for _, r := range runs() {
		if r["action"] == "scheduled_run_missed" {
			missed = r["context"].(map[string]any)
		}
	}
	if n, _ := missed["missed_runs"].(float64); n < 1 {
		t.Errorf("missed record %v", missed)
	}
	run1(t, dir, "verify")
}

// FuzzSplitCommand: a schedule's command line splits without panicking,
// and words without quotes or blanks come back as they were.
func FuzzSplitCommand(f *testing.F) {
	f.Add(`repo --sources=git,file`)
	f.Add(`logs --dir="my logs" --level='error'`)
	f.Add(`export --to=git:'a b`)
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitCommand(s)
		if err != nil {
			return
		}
		for _, w := range words {
			if strings.ContainsAny(w, "\"'") {
				return // quotes inside quotes
			}
		}
		again, err := splitCommand(strings.Join(words, " "))
		if err != nil {
			t.Fatal(err)
		}
		plain := true
		for _, w := range words {
			if w == "" || strings.ContainsAny(w, " \t\n") {
				plain = false
			}
		}
		if plain && strings.Join(again, "\x00") != strings.Join(words, "\x00") {
			t.Fatalf("%q split as %q, joined and split again as %q", s, words, again)
		}
	})
}
