package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestWatchLogs runs "watch --logs" as a process: lines appended while it
// runs are recorded, a SIGTERM stops it cleanly, lines written while it
// is stopped are recorded after a restart, and nothing twice.
func TestWatchLogs(t *testing.T) {
	dir := t.TempDir()
	run1(t, dir, "init")
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	f, err := os.OpenFile(filepath.Join(logs, "api.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
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
	waitFor(t, "20 records", func() bool { return entries() == 20 })
	stop()
	if got := entries(); got != 20 {
		t.Fatalf("%d records, want 20", got)
	}
	recs := run1(t, dir, "query", "--action=log_entry", "--limit=0", "--format=jsonl")
	for i := 6; i <= 20; i++ {
		if c := strings.Count(recs, fmt.Sprintf(`"request %d failed"`, i)); c != 1 {
			t.Errorf("line %d recorded %d times", i, c)
		}
	}
	run1(t, dir, "verify")
}
