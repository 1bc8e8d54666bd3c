package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDashboardInTerminal runs the dashboard in a real terminal (tmux) and
// appends a record from another process: the dashboard shows it within a
// second. It needs tmux (scripts/install-tmux.sh); without it the test
// skips, unless AMI_AUDIT_REQUIRE_TMUX=1 (as CI sets).
func TestDashboardInTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		msg := "tmux is not installed: run scripts/install-tmux.sh as root to run the dashboard in a terminal"
		if os.Getenv("AMI_AUDIT_REQUIRE_TMUX") == "1" {
			t.Fatal(msg + " (AMI_AUDIT_REQUIRE_TMUX=1)")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	run1(t, dir, "init")
	run1(t, dir, "record", "--actor", "alice", "--action", "first-action", "--target", "svc/a", "--target-type", "service")
	// a server of our own, with this test's environment (PATH finds
	// ami-audit)
	sock := "ami-audit-test-" + strconv.Itoa(os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("-f", "/dev/null", "new-session", "-d", "-s", "dash", "-x", "120", "-y", "40", "-c", dir, "ami-audit dashboard --interval=100ms; sleep 30")
	t.Cleanup(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", "dash") }
	waitFor(t, "the dashboard", func() bool { return strings.Contains(screen(), "first-action") })
	if s := screen(); !strings.Contains(s, "Latest records") || !strings.Contains(s, "size 1") {
		t.Fatalf("the dashboard shows:\n%s", s)
	}

	run1(t, dir, "record", "--actor", "bob", "--action", "second-action", "--target", "svc/b", "--target-type", "service")
	appended := time.Now()
	for !strings.Contains(screen(), "second-action") {
		if time.Since(appended) > time.Second {
			t.Fatalf("the record appended by another process is not shown after a second:\n%s", screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("shown %v after the append", time.Since(appended).Round(time.Millisecond))
	if s := screen(); !strings.Contains(s, "size 2") {
		t.Errorf("the chain's size is not updated:\n%s", s)
	}

	// the filter box narrows the records
	tmux("send-keys", "-t", "dash", "-l", "/second")
	tmux("send-keys", "-t", "dash", "Enter")
	deadline := time.Now().Add(5 * time.Second)
	for s := screen(); !strings.Contains(s, "filter: second") || strings.Contains(s, "first-action"); s = screen() {
		if time.Now().After(deadline) {
			t.Fatalf("the filter box does not narrow the records:\n%s", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tmux("send-keys", "-t", "dash", "q")
	waitFor(t, "the dashboard to quit", func() bool { return !strings.Contains(screen(), "Latest records") })
}

// TestDashboardPlain: without a terminal the dashboard prints lines.
func TestDashboardPlain(t *testing.T) {
	dir := t.TempDir()
	run1(t, dir, "init")
	cmd := exec.Command("ami-audit", "dashboard", "--interval=50ms")
	cmd.Dir = dir
	var out lockedBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(300 * time.Millisecond)
	run1(t, dir, "record", "--actor", "bob", "--action", "plain-action", "--target", "svc/b", "--target-type", "service")
	waitFor(t, "the plain line", func() bool { return strings.Contains(out.String(), "plain-action") })
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	s := out.String()
	if strings.Contains(s, "\x1b[") {
		t.Errorf("escape sequences in plain output:\n%q", s)
	}
	if !strings.Contains(s, "-- size 1") {
		t.Errorf("no status line:\n%s", s)
	}
}

// lockedBuffer is a buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
