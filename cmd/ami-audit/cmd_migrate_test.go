package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// pgStoreURL returns a store URL of a fresh schema of the test database,
// dropped when the test ends.
func pgStoreURL(t *testing.T) string {
	t.Helper()
	url := pgtest.URL(t)
	schema := storetest.RandomName("cli_")
	conn := pgtest.Conn(t, url)
	t.Cleanup(func() { conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "schema=" + schema
}

// amiIn runs the ami-audit binary (this test binary, see TestMain) in dir
// with extra environment.
func amiIn(dir string, env []string, stdin string, args ...string) (string, error) {
	cmd := exec.Command("ami-audit", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("ami-audit %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), err
}

// TestPostgresProcesses runs several "ami-audit record" processes at once
// against one PostgreSQL database: the chain verifies and holds exactly
// every record.
func TestPostgresProcesses(t *testing.T) {
	dir := t.TempDir()
	env := []string{"AMI_AUDIT_STORE=" + pgStoreURL(t)}
	if _, err := amiIn(dir, env, "", "init"); err != nil {
		t.Fatal(err)
	}
	const procs, each, batchLines = 6, 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var err error
				if i%2 == 0 {
					_, err = amiIn(dir, env, "", "record", "--actor", fmt.Sprintf("proc-%d", p), "--action", "append", "--target", fmt.Sprint(i), "--target-type", "file")
				} else {
					var lines strings.Builder
					for j := range batchLines {
						fmt.Fprintf(&lines, `{"actor":"proc-%d","action":"batch","target":"%d-%d","target_type":"file"}`+"\n", p, i, j)
					}
					_, err = amiIn(dir, env, lines.String(), "record", "--from", "-")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := procs * (each/2 + each/2*batchLines)
	out, err := amiIn(dir, env, "", "verify")
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("chain        %d records", want)) {
		t.Fatalf("verify says\n%s\nwant %d records", out, want)
	}
	out, err = amiIn(dir, env, "", "export", "--format", "jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != want {
		t.Fatalf("export has %d records, want %d", n, want)
	}
}

var migrateRootLine = regexp.MustCompile(`(?m)^root (\S+)$`)

// TestMigrateCommand migrates a trail to another store, twice (the second
// run finds nothing to copy), and checks that verify of the target reports
// the root migrate printed.
func TestMigrateCommand(t *testing.T) {
	targets := map[string]func(t *testing.T, dir string) string{
		"sqlite":   func(t *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "copy.db") },
		"postgres": func(t *testing.T, _ string) string { return pgStoreURL(t) },
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			to := target(t, dir)
			if _, err := amiIn(dir, nil, "", "init"); err != nil {
				t.Fatal(err)
			}
			var lines strings.Builder
			for i := range 250 {
				fmt.Fprintf(&lines, `{"actor":"ci","action":"deploy","target":"svc/%d","target_type":"service","context":{"n":%d}}`+"\n", i%7, i)
			}
			if _, err := amiIn(dir, nil, lines.String(), "record", "--from", "-"); err != nil {
				t.Fatal(err)
			}
			from := "sqlite:" + filepath.Join(dir, ".audit", "audit.db")
			out, err := amiIn(dir, nil, "", "migrate", "--from", from, "--to", to, "--chunk", "100")
			if err != nil {
				t.Fatal(err)
			}
			m := migrateRootLine.FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, "size 250\n") {
				t.Fatalf("migrate printed\n%s", out)
			}
			src, err := amiIn(dir, nil, "", "verify")
			if err != nil {
				t.Fatal(err)
			}
			dst, err := amiIn(dir, []string{"AMI_AUDIT_STORE=" + to}, "", "verify")
			if err != nil {
				t.Fatal(err)
			}
			for what, v := range map[string]string{"source": src, "target": dst} {
				if !strings.Contains(v, "250 records, hashes and links intact, Merkle root "+m[1]) {
					t.Errorf("verify of the %s says\n%s\nwant root %s", what, v, m[1])
				}
			}
			if !strings.Contains(dst, "ok    tree heads   3 stored, signed") {
				t.Errorf("the target's tree heads are not signed with the log key:\n%s", dst)
			}
			again, err := amiIn(dir, nil, "", "migrate", "--from", from, "--to", to)
			if err != nil || !strings.Contains(again, "root "+m[1]) {
				t.Fatalf("second migrate: %v\n%s", err, again)
			}
		})
	}
}

func TestMigrateUsage(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		args []string
		code int
		msg  string
	}{
		"no target":       {[]string{"migrate", "--from", "sqlite:x.db"}, exitUsage, "give both"},
		"same store":      {[]string{"migrate", "--from", "sqlite:x.db", "--to", "sqlite:x.db"}, exitUsage, "same store"},
		"missing source":  {[]string{"migrate", "--from", "sqlite:" + filepath.Join(dir, "none.db"), "--to", "sqlite:" + filepath.Join(dir, "b.db")}, exitError, "no audit store"},
		"unknown scheme":  {[]string{"migrate", "--from", "ftp://x", "--to", "sqlite:y.db"}, exitError, "unknown scheme"},
		"password hidden": {[]string{"migrate", "--from", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1", "--to", "sqlite:y.db"}, exitError, "xxxxx"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.msg) || strings.Contains(stderr, "hunter2") {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q (and no password)", code, stderr, c.code, c.msg)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFollow tails the trail while records are appended: through the
// Redis cache's announcements, and by polling without a cache.
func TestFollow(t *testing.T) {
	// Each case gives the global flags and the poll interval.
	cases := map[string]func(t *testing.T) ([]string, string){
		"polling": func(t *testing.T) ([]string, string) { return nil, "50ms" },
		"redis": func(t *testing.T) ([]string, string) {
			// A long poll interval: the records can only arrive in time
			// through the announcements.
			return []string{"--cache", storetest.ServerURL(t, storetest.EnvRedis, "redis://127.0.0.1:6379/0")}, "1h"
		},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			auditDir := filepath.Join(dir, ".audit")
			flags, poll := extra(t)
			global := append([]string{"--audit-dir", auditDir}, flags...)
			if code, _, stderr := runCLI(t, "--audit-dir", auditDir, "init"); code != 0 {
				t.Fatal(stderr)
			}
			runCLI(t, "--audit-dir", auditDir, "record", "--actor", "ci", "--action", "deploy", "--target", "old", "--target-type", "service")
			ctx, cancel := context.WithCancel(context.Background())
			var out, errb syncBuffer
			done := make(chan int)
			go func() {
				args := append(append([]string{}, global...), "query", "--follow", "--poll", poll, "--action", "deploy", "--format", "jsonl")
				done <- run(ctx, args, strings.NewReader(""), &out, &errb)
			}()
			time.Sleep(300 * time.Millisecond) // let it subscribe
			for i, action := range []string{"deploy", "commit", "deploy"} {
				args := append(append([]string{}, global...), "record", "--actor", "ci", "--action", action, "--target", fmt.Sprint("new-", i), "--target-type", "service")
				if code, _, stderr := runCLI(t, args...); code != 0 {
					t.Fatal(stderr)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("follow exited %d: %s", code, errb.String())
			}
			got := out.String()
			if strings.Count(got, "\n") != 2 || !strings.Contains(got, `"target":"new-0"`) || !strings.Contains(got, `"target":"new-2"`) || strings.Contains(got, `"old"`) {
				t.Errorf("follow printed\n%s\nwant the two new deploy records only", got)
			}
		})
	}
}
