//go:build unix

package file

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
)

// skippedReasons maps the targets of file_skipped records to their reason,
// checking that each is a well-formed warning.
func skippedReasons(t *testing.T, recs []*audit.Record) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range recs {
		if r.Action != ActionSkipped {
			continue
		}
		if r.Severity != audit.SeverityWarning {
			t.Errorf("%s: skipped with severity %s, want warning", r.Target, r.Severity)
		}
		out[r.Target] = r.Context["reason"].(string)
	}
	return out
}

// TestSpecialFiles: a named pipe and a socket are never opened (opening a
// pipe with no writer blocks); each is recorded as a warning.
func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"ok.txt": "ok"})
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	trail := &memTrail{}
	recs, entries := collect(t, Config{Root: dir}, dir, trail)
	want := map[string]string{"pipe": ReasonNotRegular, "sock": ReasonNotRegular}
	if diff := cmp.Diff(want, skippedReasons(t, recs)); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if got := byTarget(recs)["pipe"].Context["error"]; got != "named pipe" {
		t.Errorf("pipe error %q", got)
	}
	if got := byTarget(recs)["ok.txt"]; got == nil || got.Action != ActionHash {
		t.Errorf("ok.txt not hashed beside the special files")
	}
	var warned int
	for _, e := range entries {
		if e.Change == ChangeSkipped && len(e.Warnings) == 1 {
			warned++
		}
	}
	if warned != 2 {
		t.Errorf("Observe heard %d skipped entries with a warning, want 2", warned)
	}
	// the same special files are not recorded again on the next run
	recs, _ = collect(t, Config{Root: dir}, dir, trail)
	if len(recs) != 0 {
		t.Errorf("second run recorded %v", targets(recs))
	}
}

// TestReplacedAfterListing: a file replaced by a named pipe, or removed,
// between the walk listing it and the hasher opening it.
func TestReplacedAfterListing(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"becomes-pipe": "x", "vanishes": "y", "stays": "z", "becomes-link": "l"})
	src, err := New(Config{Root: dir, Actor: "t"})
	if err != nil {
		t.Fatal(err)
	}
	src.testHookBeforeOpen = func(abs string) {
		switch filepath.Base(abs) {
		case "becomes-pipe":
			os.Remove(abs)
			if err := syscall.Mkfifo(abs, 0o644); err != nil {
				t.Error(err)
			}
		case "vanishes":
			os.Remove(abs)
		case "becomes-link":
			os.Remove(abs)
			if err := os.Symlink("stays", abs); err != nil {
				t.Error(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*audit.Record
	err = src.Collect(ctx, dir, func(r *audit.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatalf("Collect: %v (a pipe opened for reading would block until the deadline)", err)
	}
	want := map[string]string{"becomes-pipe": ReasonNotRegular, "vanishes": ReasonVanished}
	if diff := cmp.Diff(want, skippedReasons(t, recs)); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if r := byTarget(recs)["stays"]; r == nil || r.Context["sha256"] != sha("z") {
		t.Errorf("stays not hashed")
	}
	// opened without following links: recorded as the link it now is
	if r := byTarget(recs)["becomes-link"]; r == nil || r.Context["file_type"] != "symlink" || r.Context["sha256"] != sha("stays") {
		t.Errorf("becomes-link: %v", r)
	}
}

// TestUnreadable: a file and a directory the scanning user may not read.
// Tests usually run as root, whom permission bits do not stop, so as root
// the test runs the scan in a child process as the unprivileged user
// nobody (uid 65534): the EACCES paths are really exercised either way.
func TestUnreadable(t *testing.T) {
	if os.Getenv("FILE_SOURCE_UNREADABLE_CHILD") != "" {
		return // the child's work is done by TestMain
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"public.txt": "p", "secret.txt": "s", "locked/inside.txt": "i"})
	must(t, os.Chmod(filepath.Join(dir, "secret.txt"), 0o000))
	must(t, os.Chmod(filepath.Join(dir, "locked"), 0o000))
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "locked"), 0o755) })

	var recs []*audit.Record
	if os.Getuid() != 0 {
		recs, _ = collect(t, Config{Root: dir}, dir, nil)
	} else {
		recs = runAsNobody(t, dir)
	}
	want := map[string]string{"secret.txt": ReasonUnreadable, "locked": ReasonDirUnreadable}
	if diff := cmp.Diff(want, skippedReasons(t, recs)); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	for _, r := range recs {
		if r.Action == ActionSkipped && !strings.Contains(r.Context["error"].(string), "permission denied") {
			t.Errorf("%s: error %q, want permission denied", r.Target, r.Context["error"])
		}
	}
	if r := byTarget(recs)["public.txt"]; r == nil || r.Context["sha256"] != sha("p") {
		t.Errorf("public.txt not hashed beside the unreadable ones")
	}
}

// runAsNobody runs the scan of dir in a copy of the test binary as uid
// 65534 and returns the records it printed.
func runAsNobody(t *testing.T, dir string) []*audit.Record {
	t.Helper()
	// the child must be able to reach dir and run the binary
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755))
	}
	exe, err := os.Executable()
	must(t, err)
	bin := filepath.Join(filepath.Dir(dir), "file.test")
	copyFile(t, exe, bin)
	must(t, os.Chmod(bin, 0o755))
	cmd := exec.Command(bin, "-test.run=^TestUnreadable$")
	cmd.Env = append(os.Environ(), "FILE_SOURCE_UNREADABLE_CHILD="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("child: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("child: %v", err)
	}
	var recs []*audit.Record
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var r audit.Record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("child output: %v\n%s", err, out)
		}
		recs = append(recs, &r)
	}
	if len(recs) == 0 {
		t.Fatalf("child printed no records:\n%s", out)
	}
	return recs
}

// unreadableChild is the child's side of runAsNobody.
func unreadableChild(dir string) int {
	if os.Getuid() == 0 {
		os.Stderr.WriteString("child still runs as root\n")
		return 1
	}
	src, err := New(Config{Root: dir, Actor: "nobody"})
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 1
	}
	enc := json.NewEncoder(os.Stdout)
	err = src.Collect(context.Background(), dir, func(r *audit.Record) error { return enc.Encode(r) })
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 1
	}
	return 0
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("FILE_SOURCE_UNREADABLE_CHILD"); dir != "" {
		os.Exit(unreadableChild(dir))
	}
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret.txt": "outside content"})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"real.txt": "real content", "sub/deep.txt": "deep"})
	links := map[string]string{
		"loop-a":     "loop-b",
		"loop-b":     "loop-a",
		"self":       "self",
		"dangling":   "no-such-file",
		"inside":     "real.txt",
		"out-file":   filepath.Join(outside, "secret.txt"),
		"out-dir":    outside,
		"sub/up":     "..", // leads back to the root: a cycle when followed
		"sub/parent": "../sub",
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))))
	}

	t.Run("not followed", func(t *testing.T) {
		recs, _ := collect(t, Config{Root: dir}, dir, nil)
		got := byTarget(recs)
		for name, target := range links {
			r := got[name]
			if r == nil {
				t.Errorf("%s: no record", name)
				continue
			}
			if r.Context["file_type"] != "symlink" || r.Context["symlink_target"] != target || r.Context["sha256"] != sha(target) {
				t.Errorf("%s: type %v target %v sha %v; want a symlink to %q hashed as its text",
					name, r.Context["file_type"], r.Context["symlink_target"], r.Context["sha256"], target)
			}
			if r.Context["followed"] != nil {
				t.Errorf("%s: followed without FollowSymlinks", name)
			}
		}
		flags := map[string]string{"loop-a": "symlink_loop", "loop-b": "symlink_loop", "self": "symlink_loop",
			"dangling": "symlink_dangling", "out-file": "symlink_outside", "out-dir": "symlink_outside"}
		for name, flag := range flags {
			if got[name].Context[flag] != true {
				t.Errorf("%s: %s not set (context %v)", name, flag, got[name].Context)
			}
		}
		for _, name := range []string{"loop-a", "self", "out-file", "out-dir"} {
			if got[name].Severity != audit.SeverityWarning {
				t.Errorf("%s: severity %s, want warning", name, got[name].Severity)
			}
		}
		if got["inside"].Context["symlink_resolved"] != "real.txt" || got["inside"].Severity != audit.SeverityInfo {
			t.Errorf("inside: resolved %v severity %s", got["inside"].Context["symlink_resolved"], got["inside"].Severity)
		}
		for target := range got {
			if strings.HasPrefix(target, "out-dir/") || strings.HasPrefix(target, "sub/up/") {
				t.Errorf("walked into %s without FollowSymlinks", target)
			}
		}
	})

	t.Run("followed inside the tree", func(t *testing.T) {
		recs, _ := collect(t, Config{Root: dir, FollowSymlinks: true}, dir, nil)
		got := byTarget(recs)
		if r := got["inside"]; r.Context["sha256"] != sha("real content") || r.Context["followed"] != true {
			t.Errorf("inside: sha %v followed %v; want the content of real.txt", r.Context["sha256"], r.Context["followed"])
		}
		if r := got["out-file"]; r.Context["sha256"] != sha(filepath.Join(outside, "secret.txt")) || r.Context["followed"] != nil {
			t.Errorf("out-file was followed out of the tree")
		}
		if _, ok := got["out-dir/secret.txt"]; ok {
			t.Error("walked out of the tree through out-dir")
		}
		if r := got["sub/up"]; r.Context["symlink_cycle"] != true || r.Severity != audit.SeverityWarning {
			t.Errorf("sub/up: cycle %v severity %s", r.Context["symlink_cycle"], r.Severity)
		}
		if r := got["sub/parent"]; r.Context["symlink_cycle"] != true {
			t.Errorf("sub/parent: cycle %v", r.Context["symlink_cycle"])
		}
		for target := range got {
			if strings.HasPrefix(target, "sub/up/") {
				t.Errorf("walked the cycle: %s", target)
			}
		}
	})

	t.Run("followed outside", func(t *testing.T) {
		recs, _ := collect(t, Config{Root: dir, FollowSymlinks: true, AllowOutside: true}, dir, nil)
		got := byTarget(recs)
		if r := got["out-file"]; r.Context["sha256"] != sha("outside content") || r.Context["symlink_outside"] != true {
			t.Errorf("out-file: sha %v outside %v", r.Context["sha256"], r.Context["symlink_outside"])
		}
		if r := got["out-dir/secret.txt"]; r == nil || r.Context["sha256"] != sha("outside content") {
			t.Errorf("out-dir/secret.txt not walked with AllowOutside")
		}
	})

	if _, err := New(Config{AllowOutside: true}); err == nil {
		t.Error("AllowOutside without FollowSymlinks accepted")
	}
}

// TestHostileNames: names with a newline, a tab, invalid UTF-8, in a
// directory with an invalid name. Records must stay valid UTF-8, say that
// the name is escaped, and give the exact bytes back.
func TestHostileNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{"new\nline.txt", "tab\tname", "bad\xffname.txt", "dir\xfe/in\x01side", "ünïcode.txt", `back\slash`}
	for _, n := range names {
		writeTree(t, dir, map[string]string{n: "content of " + n})
	}
	recs, entries := collect(t, Config{Root: dir}, dir, nil)
	if len(recs) != len(names) {
		t.Fatalf("%d records for %d files: %q", len(recs), len(names), targets(recs))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		b, err := r.AppendCanonical(nil)
		if err != nil || !utf8.Valid(b) {
			t.Errorf("%q: canonical form: %v", r.Target, err)
		}
		if !utf8.ValidString(r.Target) || strings.ContainsAny(r.Target, "\n\t\x01") {
			t.Errorf("target %q is not safe text", r.Target)
		}
		escaped := r.Context["path_escaped"] == true
		raw, err := UnescapePath(r.Target, escaped)
		if err != nil {
			t.Errorf("%q: %v", r.Target, err)
		}
		seen[raw] = true
		if r.Context["sha256"] != sha("content of "+raw) {
			t.Errorf("%q: hash is not that of the file's content", raw)
		}
		plain := raw == "ünïcode.txt" || raw == `back\slash`
		if escaped != (raw != "ünïcode.txt") {
			t.Errorf("%q: path_escaped %v", raw, escaped)
		}
		if wantSev := map[bool]audit.Severity{true: audit.SeverityInfo, false: audit.SeverityWarning}[plain]; r.Severity != wantSev {
			t.Errorf("%q: severity %s, want %s", raw, r.Severity, wantSev)
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("%q not recorded", n)
		}
	}
	if got := byTarget(recs)[`new\nline.txt`]; got == nil {
		t.Errorf("newline name not recorded as %q; targets %q", `new\nline.txt`, targets(recs))
	}
	for _, e := range entries {
		if !utf8.ValidString(e.Path) {
			t.Errorf("entry path %q is not valid UTF-8", e.Path)
		}
	}
	// an ignore rule written with the raw byte excludes the file
	writeTree(t, dir, map[string]string{".gitignore": "bad\xff*\n"})
	recs, _ = collect(t, Config{Root: dir}, dir, nil)
	for _, r := range recs {
		if strings.HasPrefix(r.Target, `bad\xff`) {
			t.Errorf("%q not ignored by a raw-byte rule", r.Target)
		}
	}
}

// TestSparse2GB: a 2 GiB sparse file is hashed by streaming (the heap does
// not grow with it), its known hash recorded, and a cancelled context
// stops the hashing of such a file promptly.
func TestSparse2GB(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 2 GiB")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "sparse.img")
	f, err := os.Create(p)
	must(t, err)
	must(t, f.Truncate(2<<30))
	must(t, f.Close())

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	recs, _ := collect(t, Config{Root: dir}, dir, nil)
	runtime.ReadMemStats(&after)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	c := recs[0].Context
	// SHA-256 of 2^31 zero bytes (head -c 2147483648 /dev/zero | sha256sum)
	const want = "a7c744c13cc101ed66c29f672f92455547889cc586ce6d44fe76ae824958ea51"
	if c["sha256"] != want || c["size"] != int64(2<<30) || c["sparse"] != true || c["binary"] != true {
		t.Errorf("context %v", c)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("allocated %d MB hashing 2 GiB; want streaming (< 32 MB)", grew>>20)
	}

	src, _ := New(Config{Root: dir, Actor: "t"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err = src.Collect(ctx, dir, func(*audit.Record) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Collect after cancel = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v to stop the hashing", d)
	}
}
