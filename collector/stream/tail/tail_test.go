package tail

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
)

// The test binary doubles as the writer process: a logger that writes
// numbered JSON lines to a file opened for appending and, like Python's
// WatchedFileHandler, opens the path again when the file there is no
// longer the one it writes to (after a rename rotation).
func TestMain(m *testing.M) {
	if path := os.Getenv("TAIL_TEST_WRITER"); path != "" {
		os.Exit(writer(path))
	}
	os.Exit(m.Run())
}

func writer(path string) int {
	stop := make(chan os.Signal, 1)
	signalNotify(stop)
	open := func() (*os.File, os.FileInfo) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			panic(err)
		}
		fi, _ := f.Stat()
		return f, fi
	}
	f, fi := open()
	n := 0
	out := bufio.NewWriter(os.Stdout)
	for {
		select {
		case <-stop:
			fmt.Fprintln(out, n)
			out.Flush()
			return 0
		default:
		}
		if cur, err := os.Stat(path); err != nil || !os.SameFile(cur, fi) {
			f.Close()
			f, fi = open()
		}
		n++
		fmt.Fprintf(f, `{"timestamp":"2025-11-01T09:24:02.%06dZ","level":"INFO","logger":"w","message":"line %d"}`+"\n", n%1000000, n)
		if n%20 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func signalNotify(c chan os.Signal) { signalNotifyTerm(c) }

// run starts a collector over a tailer of dir; stop stops it and waits.
func run(t *testing.T, trail audit.Appender, dir, state string, fromStart bool) (stop func()) {
	t.Helper()
	src, err := logsource.New(logsource.Config{Level: audit.SeverityDebug})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := New(Config{Root: dir, Parser: src, StateFile: state, FromStart: fromStart, Poll: 20 * time.Millisecond, Logger: testLogger})
	if err != nil {
		t.Fatal(err)
	}
	col, err := stream.New(trail, stream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, tl) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	}
}

func copyTruncate(t *testing.T, path, to string) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	in.Close()
	out.Close()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// TestRotationAndRestart: a writer process logs while the file is rotated
// both ways (rename and create; copytruncate), with the tailer running and
// while it is stopped, and the tailer is restarted: every line is recorded
// exactly once.
func TestRotationAndRestart(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	path := filepath.Join(logs, "app.log")
	state := filepath.Join(dir, "state", "tail.json")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TAIL_TEST_WRITER="+path)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// pause waits for the writer to have the file, then stops it.
	pause := func() {
		for {
			if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGSTOP)
		// the signal is delivered asynchronously: wait until it stopped
		for {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
			if i := strings.LastIndexByte(string(b), ')'); i < 0 || i+2 >= len(b) || b[i+2] == 'T' {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	resume := func() { cmd.Process.Signal(syscall.SIGCONT) }
	pause()
	resume()

	var trail memtrail.Trail
	stop := run(t, &trail, logs, state, true)
	time.Sleep(150 * time.Millisecond)
	// rename and create, while the tailer runs
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	// copytruncate, while the tailer runs (the writer paused, as
	// logrotate's copy and truncate would race with it otherwise)
	pause()
	copyTruncate(t, path, path+".2")
	resume()
	time.Sleep(150 * time.Millisecond)
	stop()

	// while stopped: both rotations again
	time.Sleep(100 * time.Millisecond)
	pause()
	copyTruncate(t, path, path+".3")
	resume()
	time.Sleep(100 * time.Millisecond)
	if err := os.Rename(path, path+".4"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)

	stop = run(t, &trail, logs, state, false)
	time.Sleep(150 * time.Millisecond)
	pause()
	copyTruncate(t, path, path+".5")
	resume()
	time.Sleep(100 * time.Millisecond)
	if err := os.Rename(path, path+".6"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stop()
	stop = run(t, &trail, logs, state, false) // a restart with nothing in between
	time.Sleep(100 * time.Millisecond)

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	total, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil || total < 500 {
		t.Fatalf("writer wrote %q lines", out.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for trail.Len() < total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // anything more would be a duplicate
	stop()

	seen := make([]int, total+1)
	where := make([][]string, total+1)
	var mu sync.Mutex
	var bad []string
	otherName := 0
	for r, err := range trail.Query(context.Background(), audit.Filter{Limit: -1}) {
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := r.Context["message"].(string)
		n, err := strconv.Atoi(strings.TrimPrefix(msg, "line "))
		mu.Lock()
		if err != nil || n < 1 || n > total {
			bad = append(bad, msg)
		} else {
			seen[n]++
			where[n] = append(where[n], fmt.Sprintf("%s line %v offset %v seq %d", filepath.Base(r.Target), r.Context["line"], r.Context["offset"], r.Sequence))
		}
		mu.Unlock()
		// A line is named after the file it was written to, even when
		// read from a rotation; only a copy made of lines never read
		// before (copytruncate within one poll of the previous one)
		// cannot be told from a new file, and keeps its own name.
		if r.Target != filepath.ToSlash(path) {
			otherName++
			if !strings.HasPrefix(filepath.Base(r.Target), "app.log.") {
				t.Errorf("line %d recorded for %s, want %s", n, r.Target, path)
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("unexpected records: %q", bad[:min(len(bad), 5)])
	}
	var missing, twice []int
	for n := 1; n <= total; n++ {
		switch {
		case seen[n] == 0:
			missing = append(missing, n)
		case seen[n] > 1:
			twice = append(twice, n)
		}
	}
	if len(twice) > 0 {
		t.Logf("line %d: %q; line %d: %q", twice[0], where[twice[0]], twice[len(twice)-1], where[twice[len(twice)-1]])
	}
	if len(missing) > 0 || len(twice) > 0 {
		t.Fatalf("%d lines written; %d missing (first %v), %d recorded more than once (first %v)",
			total, len(missing), missing[:min(len(missing), 10)], len(twice), twice[:min(len(twice), 10)])
	}
	t.Logf("%d lines, each recorded once (%d under a rotation's name)", total, otherName)
}

// TestExcluded: a private key file and the trail's directory under the
// followed directory are never read.
func TestExcluded(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(filepath.Join(logs, ".audit"), 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte(`{"level":"info","message":"kept"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(logs, "deploy.key"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)
	os.WriteFile(filepath.Join(logs, ".audit", "x.log"), []byte(`{"level":"info","message":"trail"}`+"\n"), 0o644)
	src, _ := logsource.New(logsource.Config{Level: audit.SeverityDebug})
	tl, err := New(Config{Root: logs, Parser: src, StateFile: filepath.Join(dir, "s.json"), FromStart: true, Exclude: exclude.New()})
	if err != nil {
		t.Fatal(err)
	}
	var trail memtrail.Trail
	col, _ := stream.New(&trail, stream.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := col.Run(ctx, tl); err != nil {
		t.Fatal(err)
	}
	if trail.Len() != 1 || trail.Records()[0].Context["message"] != "kept" {
		for _, r := range trail.Records() {
			t.Errorf("recorded %s: %v", r.Target, r.Context["message"])
		}
	}
}

var testLogger = slog.New(slog.NewTextHandler(os.Stderr, nil))
