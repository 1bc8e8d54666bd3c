package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// ami runs the binary in dir and returns its streams and exit code.
func ami(t *testing.T, dir string, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("ami-audit", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("ami-audit %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// mustAmi runs the binary and fails the test unless it exits 0.
func mustAmi(t *testing.T, dir string, env []string, stdin string, args ...string) string {
	t.Helper()
	out, errs, code := ami(t, dir, env, stdin, args...)
	if code != 0 {
		t.Fatalf("ami-audit %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// wantExit runs the binary and checks its exit code and that stdout or
// stderr holds want.
func wantExit(t *testing.T, dir string, env []string, code int, want string, args ...string) (string, string) {
	t.Helper()
	out, errs, got := ami(t, dir, env, "", args...)
	if got != code || !strings.Contains(out+errs, want) {
		t.Fatalf("ami-audit %s: exit %d, want %d and %q in the output:\n%s%s", strings.Join(args, " "), got, code, want, out, errs)
	}
	return out, errs
}

func batchLines(n int, actor string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"actor":%q,"action":"deploy","target":"svc/%d","target_type":"service","context":{"n":%d}}`+"\n", actor, i%5, i)
	}
	return b.String()
}

// newTrail makes a trail with n records appended one by one (each its
// own signed tree head) in a new directory.
func newTrail(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	mustAmi(t, dir, nil, "", "init")
	for i := range n {
		mustAmi(t, dir, nil, "", "record", "--actor", "alice", "--action", "edit", "--target", fmt.Sprintf("f%d.go", i), "--target-type", "file")
	}
	return dir
}

// rewriteFrom replaces records k.. of the trail's SQLite store with a
// consistent rewrite (every hash and tree hash recomputed), as an attacker
// with write access to the database and no private key would; heads
// says what happens to the tree heads after k: "keep", "drop" or
// "unsigned" (replaced by unsigned heads of the rewritten tree).
func rewriteFrom(t *testing.T, dir string, k uint64, heads string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, ".audit", dbFile)
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var tail []*audit.Record
	for r, err := range s.Range(ctx, k, ^uint64(0)) {
		if err != nil {
			t.Fatal(err)
		}
		r.Signatures = nil
		tail = append(tail, r)
	}
	tail[0].Actor = "mallory"
	tip := audit.Head{Size: k, Hash: tail[0].PreviousHash}
	entries, _, err := ledger.Link(tip, tail, ledger.Params{Difficulty: s.Difficulty()}, s.HashReader(ctx))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, e := range entries {
		if _, err := db.Exec(`UPDATE records SET record_hash = ?, body = ?, tree = ?, actor = ? WHERE seq = ?`,
			e.Hash[:], e.Body, e.TreeBlob(), e.Record.Actor, e.Record.Sequence); err != nil {
			t.Fatal(err)
		}
	}
	switch heads {
	case "drop":
		db.Exec(`DELETE FROM heads WHERE size > ?`, k)
	case "unsigned":
		acc, err := ledger.Frontier(k, sqliteHashes(t, db))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			acc.Add(ledger.LeafHash(e.Hash), nil)
			root := acc.Root()
			if _, err := db.Exec(`INSERT OR REPLACE INTO heads (size, root, note) VALUES (?, ?, NULL)`, e.Record.Sequence+1, root[:]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func sqliteHashes(t *testing.T, db *sql.DB) tlog.HashReader {
	return ledger.BlobHashReader(func(leaf uint64) ([]byte, error) {
		var b []byte
		err := db.QueryRow(`SELECT tree FROM records WHERE seq = ?`, leaf).Scan(&b)
		return b, err
	})
}

// TestRewrittenLogIsNeverSigned rewrites a trail's records from the
// middle on, with every hash recomputed: verify names the rewrite, and
// nothing that signs or proves — checkpoint, prove, an append that would
// sign a new tree head — goes along with it (exit 3).
func TestRewrittenLogIsNeverSigned(t *testing.T) {
	for _, heads := range []string{"keep", "drop", "unsigned"} {
		t.Run("heads "+heads, func(t *testing.T) {
			dir := newTrail(t, 8)
			cp := mustAmi(t, dir, nil, "", "checkpoint")
			os.WriteFile(filepath.Join(dir, "cp.txt"), []byte(cp), 0o644)
			var id string
			for _, line := range strings.Split(mustAmi(t, dir, nil, "", "query", "--format", "jsonl", "--limit", "1"), "\n") {
				if i := strings.Index(line, `"record_id":"`); i >= 0 {
					id = line[i+13 : i+49]
				}
			}
			rewriteFrom(t, dir, 4, heads)
			wantExit(t, dir, nil, 3, "FAIL", "verify")
			wantExit(t, dir, nil, 3, "refusing to give a checkpoint", "checkpoint")
			wantExit(t, dir, nil, 3, "", "prove", "--record", id)
			wantExit(t, dir, nil, 3, "", "verify", "--checkpoint", "cp.txt")
			wantExit(t, dir, nil, 3, "refusing to append", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
			// Nothing was appended by the refused command.
			wantExit(t, dir, nil, 3, "", "verify")
		})
	}
}

// TestVerifyWhileAppending verifies a trail over and over while another
// process appends to it: no verification may fail.
func TestVerifyWhileAppending(t *testing.T) {
	stores := map[string][]string{"sqlite": nil}
	if os.Getenv(storetest.EnvPostgres) != "" || os.Getenv(storetest.EnvRequireServers) == "1" {
		stores["postgres"] = []string{"AMI_AUDIT_STORE=" + pgStoreURL(t)}
	}
	for name, env := range stores {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			mustAmi(t, dir, env, "", "init")
			mustAmi(t, dir, env, batchLines(50, "seed"), "record", "--from", "-")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			var appends atomic.Int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					cmd := exec.CommandContext(ctx, "ami-audit", "record", "--from", "-")
					cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
					cmd.Stdin = strings.NewReader(batchLines(1+i%7, "writer"))
					if err := cmd.Run(); err == nil {
						appends.Add(1)
					}
				}
			}()
			const runs = 25
			for i := range runs {
				out, errs, code := ami(t, dir, env, "", "verify")
				if code != 0 {
					cancel()
					wg.Wait()
					t.Fatalf("verify %d of %d while appending: exit %d\n%s%s", i+1, runs, code, out, errs)
				}
			}
			cancel()
			wg.Wait()
			if appends.Load() < 2 {
				t.Fatalf("only %d appends ran during the verifications", appends.Load())
			}
			mustAmi(t, dir, env, "", "verify")
		})
	}
}

// TestEmptiedOrDeletedStore: a trail whose store is emptied or deleted is
// a verification failure, and no command starts a new chain in its place.
func TestEmptiedOrDeletedStore(t *testing.T) {
	cases := map[string]func(db string){
		"emptied": func(db string) { os.WriteFile(db, nil, 0o644) },
		"deleted": func(db string) { os.Remove(db); os.Remove(db + "-wal"); os.Remove(db + "-shm") },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := newTrail(t, 3)
			db := filepath.Join(dir, ".audit", dbFile)
			damage(db)
			wantExit(t, dir, nil, 3, "the trail's store is missing or empty", "verify")
			wantExit(t, dir, nil, 3, "the trail's store is missing or empty", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
			wantExit(t, dir, nil, 3, "the trail's store is missing or empty", "query")
			if fi, err := os.Stat(db); err == nil && fi.Size() > 0 {
				t.Fatalf("a command re-created the store (%d bytes)", fi.Size())
			}
		})
	}
	t.Run("rows deleted", func(t *testing.T) {
		dir := newTrail(t, 3)
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, ".audit", dbFile))
		if err != nil {
			t.Fatal(err)
		}
		db.Exec(`DELETE FROM signatures; DELETE FROM records; DELETE FROM heads`)
		db.Close()
		wantExit(t, dir, nil, 3, "this machine saw the log signed at size 3", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
		wantExit(t, dir, nil, 3, "FAIL  seen", "verify")
	})
}

// TestBrokenLogKey: a log public key that does not parse is an error, one
// of another log a verification failure; never "unsigned".
func TestBrokenLogKey(t *testing.T) {
	dir := newTrail(t, 2)
	pub := filepath.Join(dir, ".audit", "log.pub")
	good, _ := os.ReadFile(pub)
	os.WriteFile(pub, []byte("garbage\n"), 0o644)
	wantExit(t, dir, nil, 1, "not a public key", "verify")
	other := t.TempDir()
	mustAmi(t, other, nil, "", "keygen", "--name", "someone-else")
	b, _ := os.ReadFile(filepath.Join(other, "someone-else.pub"))
	os.WriteFile(pub, b, 0o644)
	wantExit(t, dir, nil, 3, "is the key of \"someone-else\", not of this log", "verify")
	os.WriteFile(pub, good, 0o644)
	mustAmi(t, dir, nil, "", "verify")
	// Without log.pub the signed trail cannot be checked: say so.
	os.Remove(pub)
	wantExit(t, dir, nil, 1, "give the log's public key", "verify")
	wantExit(t, t.TempDir(), []string{"AMI_AUDIT_STORE=sqlite:" + filepath.Join(dir, ".audit", dbFile)}, 1, "are signed", "verify")
	mustAmi(t, t.TempDir(), []string{"AMI_AUDIT_STORE=sqlite:" + filepath.Join(dir, ".audit", dbFile)}, "", "verify", "--key", writeTemp(t, good))
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReadOnlyAuditor: an auditor with read access to the trail and its
// public key only — not to the private key, and unable to write anywhere
// in the trail — verifies, queries, proves and exports. Run as root, the
// auditor is the user nobody; otherwise the trail is made read-only.
func TestReadOnlyAuditor(t *testing.T) {
	dir := newTrail(t, 4)
	cp := mustAmi(t, dir, nil, "", "checkpoint")
	os.WriteFile(filepath.Join(dir, "cp.txt"), []byte(cp), 0o644)
	var id string
	out := mustAmi(t, dir, nil, "", "query", "--format", "jsonl", "--limit", "1")
	if i := strings.Index(out, `"record_id":"`); i >= 0 {
		id = out[i+13 : i+49]
	}
	// The auditor's copy, in a directory they cannot write.
	copyDir := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		full := append([]string{"--audit-dir", filepath.Join(copyDir, ".audit")}, args...)
		if os.Geteuid() != 0 {
			return ami(t, copyDir, nil, "", full...)
		}
		self, _ := exec.LookPath("ami-audit")
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", self}, full...)...)
		cmd.Dir = copyDir
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}
	// Everything readable, nothing writable; the private key unreadable.
	filepath.WalkDir(copyDir, func(p string, d os.DirEntry, err error) error {
		switch {
		case d.IsDir():
			os.Chmod(p, 0o555)
		case strings.HasSuffix(p, ".key"):
			os.Chmod(p, 0o600)
		default:
			os.Chmod(p, 0o444)
		}
		return nil
	})
	self, _ := exec.LookPath("ami-audit")
	if os.Geteuid() == 0 {
		// nobody must be able to reach the binary and the copy.
		for p := self; p != "/"; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(p, fi.Mode().Perm()|0o011)
			}
		}
		for p := filepath.Dir(copyDir); p != "/"; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(p, fi.Mode().Perm()|0o001)
			}
		}
	}
	t.Cleanup(func() {
		filepath.WalkDir(copyDir, func(p string, d os.DirEntry, err error) error {
			os.Chmod(p, 0o755)
			return nil
		})
	})
	before := treeState(t, copyDir)
	for _, args := range [][]string{
		{"verify"},
		{"verify", "--checkpoint", "cp.txt"},
		{"verify", "--record", id},
		{"query", "--actor", "alice"},
		{"export", "--format", "jsonl"},
		{"prove", "--record", id, "--checkpoint", "cp.txt"},
		{"prove", "--record", id},
		{"checkpoint"},
	} {
		out, errs, code := run(args...)
		if code != 0 {
			t.Errorf("%s as a read-only auditor: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	if after := treeState(t, copyDir); after != before {
		t.Errorf("the read-only commands changed the trail's files:\nbefore %s\nafter  %s", before, after)
	}
}

// treeState lists a tree's files with their sizes and modification times.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		fmt.Fprintf(&b, "%s:%d:%d ", strings.TrimPrefix(p, dir), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	return b.String()
}

// TestOneIdentityPerLog: a team store named in a directory that already
// holds a trail is refused, not silently created under the same identity;
// a checkpoint of another log is reported as such; migrate refuses a
// target holding another log.
func TestOneIdentityPerLog(t *testing.T) {
	a := newTrail(t, 2)
	b := newTrail(t, 2)
	other := "sqlite:" + filepath.Join(t.TempDir(), "other.db")
	wantExit(t, a, []string{"AMI_AUDIT_STORE=" + other}, 3, "holds no trail", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
	if _, err := os.Stat(strings.TrimPrefix(other, "sqlite:")); err == nil {
		t.Fatal("a store was created for a directory whose trail lives elsewhere")
	}
	wantExit(t, a, []string{"AMI_AUDIT_STORE=sqlite:" + filepath.Join(b, ".audit", dbFile)}, 3, "it is another trail", "verify")
	cpB := mustAmi(t, b, nil, "", "checkpoint")
	os.WriteFile(filepath.Join(a, "b.txt"), []byte(cpB), 0o644)
	wantExit(t, a, nil, 3, "a checkpoint of log", "verify", "--checkpoint", "b.txt")
	wantExit(t, a, nil, 2, "holds another trail", "migrate", "--from", "sqlite:"+filepath.Join(a, ".audit", dbFile), "--to", "sqlite:"+filepath.Join(b, ".audit", dbFile))
	mustAmi(t, b, nil, "", "verify")
	// Two logs of the same origin name are still told apart.
	c := t.TempDir()
	d := t.TempDir()
	mustAmi(t, c, nil, "", "init", "--origin", "example.org/audit")
	mustAmi(t, d, nil, "", "init", "--origin", "example.org/audit")
	mustAmi(t, c, nil, "", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
	mustAmi(t, d, nil, "", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
	cpC := mustAmi(t, c, nil, "", "checkpoint")
	os.WriteFile(filepath.Join(d, "c.txt"), []byte(cpC), 0o644)
	wantExit(t, d, nil, 3, "not signed by this log's key", "verify", "--checkpoint", "c.txt")
}

// TestTeamStoreJoinAndIdentity runs the identity checks against
// PostgreSQL: a second directory joins the team trail; a PostgreSQL store
// named in a directory with an SQLite trail is refused; two stores behind
// one Redis never answer with each other's records.
func TestTeamStoreJoinAndIdentity(t *testing.T) {
	pg := pgStoreURL(t)
	owner := t.TempDir()
	env := []string{"AMI_AUDIT_STORE=" + pg}
	mustAmi(t, owner, env, "", "init")
	mustAmi(t, owner, env, batchLines(5, "owner"), "record", "--from", "-")
	// A second machine joins with the log's public key, and can verify.
	member := t.TempDir()
	out := mustAmi(t, member, env, "", "init", "--key", filepath.Join(owner, ".audit", "log.pub"))
	if !strings.Contains(out, "joined the audit trail") {
		t.Fatalf("init on an existing team store:\n%s", out)
	}
	mustAmi(t, member, nil, "", "verify")
	// Without the log key it cannot append: its heads could not be signed.
	wantExit(t, member, nil, 1, "signed by its log key", "record", "--actor", "m", "--action", "x", "--target", "y", "--target-type", "file")
	// A directory with its own SQLite trail does not get a PostgreSQL
	// trail made for it under its identity.
	local := newTrail(t, 1)
	pg2 := pgStoreURL(t)
	wantExit(t, local, []string{"AMI_AUDIT_STORE=" + pg2}, 3, "holds no trail", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
	// Two stores behind one Redis.
	rurl := redisURLFor(t)
	one := mustAmi(t, owner, []string{"AMI_AUDIT_STORE=" + pg, "AMI_AUDIT_CACHE=" + rurl}, "", "query", "--format", "jsonl")
	two := mustAmi(t, local, []string{"AMI_AUDIT_CACHE=" + rurl}, "", "query", "--format", "jsonl")
	if strings.Contains(two, `"actor":"owner"`) || !strings.Contains(one, `"actor":"owner"`) {
		t.Fatalf("two trails behind one Redis mixed their records:\n%s\n--\n%s", one, two)
	}
}

func redisURLFor(t *testing.T) string {
	return storetest.ServerURL(t, storetest.EnvRedis, "redis://127.0.0.1:6379/0")
}

// TestCacheIsNeverTruth writes to every cache key of a trail as an
// attacker with access to Redis would; queries and proofs through the
// command line still answer what the store holds.
func TestCacheIsNeverTruth(t *testing.T) {
	rurl := redisURLFor(t)
	dir := newTrail(t, 0)
	env := []string{"AMI_AUDIT_CACHE=" + rurl}
	mustAmi(t, dir, env, batchLines(6, "alice"), "record", "--from", "-")
	want := mustAmi(t, dir, env, "", "query", "--actor", "alice", "--format", "jsonl")
	again := mustAmi(t, dir, env, "", "query", "--actor", "alice", "--format", "jsonl")
	if want != again {
		t.Fatal("the cached answer differs")
	}
	opt, _ := redis.ParseURL(rurl)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	var logID string
	cfg, _ := os.ReadFile(filepath.Join(dir, ".audit", "config.yaml"))
	for _, l := range strings.Split(string(cfg), "\n") {
		if v, ok := strings.CutPrefix(l, "log_id: "); ok {
			logID = strings.TrimSpace(v)
		}
	}
	keys, err := rdb.Keys(ctx, "ami-audit:"+logID+":*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no cache keys for log %s: %v", logID, err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), keys...) })
	for _, k := range keys {
		switch typ, _ := rdb.Type(ctx, k).Result(); typ {
		case "string":
			v, _ := rdb.Get(ctx, k).Bytes()
			rdb.Set(ctx, k, bytes.ReplaceAll(v, []byte("alice"), []byte("mallo")), 0)
		case "hash":
			fields, _ := rdb.HKeys(ctx, k).Result()
			for _, f := range fields {
				rdb.HSet(ctx, k, f, append(make([]byte, 32), "[]"...))
			}
		}
	}
	if got := mustAmi(t, dir, env, "", "query", "--actor", "alice", "--format", "jsonl"); got != want {
		t.Fatalf("after the cache was written to, query answers\n%s\nwant\n%s", got, want)
	}
	id := want[strings.Index(want, `"record_id":"`)+13:][:36]
	proof := mustAmi(t, dir, env, "", "prove", "--record", id)
	if strings.Contains(proof, "mallo") || !strings.Contains(proof, `"actor": "alice"`) {
		t.Fatalf("prove emitted a record the store does not hold:\n%s", proof)
	}
}

// TestQuorumAfterRepo: after a repository audit there are hundreds of
// records; two of three trusted signers vouch for them — one by signing
// every unsigned record, one by co-signing a checkpoint — and the spec's
// verify --chain --signatures passes with a 2/3 quorum.
func TestQuorumAfterRepo(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if _, err := gitgen.Generate(context.Background(), repo, gitgen.Options{Seed: 7, Commits: 60, SubmoduleCommits: 3}); err != nil {
		t.Fatal(err)
	}
	mustAmi(t, repo, nil, "", "init")
	mustAmi(t, repo, nil, "", "repo", "--format", "json", "--output", filepath.Join(dir, "r.json"))
	for _, name := range []string{"alice", "bob", "carol"} {
		mustAmi(t, dir, nil, "", "--audit-dir", filepath.Join(repo, ".audit"), "keygen", "--name", name, "--trust")
	}
	wantExit(t, repo, nil, 3, "quorum 2/3 not met", "verify", "--chain", "--signatures", "--quorum", "2/3")
	out := mustAmi(t, repo, nil, "", "sign", "--key", filepath.Join(dir, "alice.key"), "--unsigned")
	if !strings.Contains(out, "signed ") {
		t.Fatal(out)
	}
	again := mustAmi(t, repo, nil, "", "sign", "--key", filepath.Join(dir, "alice.key"), "--unsigned")
	if !strings.Contains(again, "signed 0 records") {
		t.Fatalf("a second --unsigned run signed again: %s", again)
	}
	wantExit(t, repo, nil, 3, "quorum 2/3 not met", "verify", "--chain", "--signatures", "--quorum", "2/3")
	mustAmi(t, repo, nil, "", "checkpoint", "--output", filepath.Join(dir, "cp.txt"))
	mustAmi(t, repo, nil, "", "sign", "--key", filepath.Join(dir, "bob.key"), "--checkpoint", filepath.Join(dir, "cp.txt"))
	out = mustAmi(t, repo, nil, "", "verify", "--chain", "--signatures", "--quorum", "2/3")
	if !strings.Contains(out, "quorum 2/3 met by every record") {
		t.Fatalf("verify:\n%s", out)
	}
	// Records appended after the co-signed checkpoint lack bob.
	mustAmi(t, repo, nil, "", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file", "--sign", filepath.Join(dir, "alice.key"))
	wantExit(t, repo, nil, 3, "quorum 2/3 not met", "verify", "--chain", "--signatures", "--quorum", "2/3")
	// A forged co-signature (by the attacker's own key named bob) counts
	// for nothing, and an altered one is caught.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(repo, ".audit", dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE cosignatures SET note = replace(note, substr(note, -20, 8), 'AAAAAAAA')`); err != nil {
		t.Fatal(err)
	}
	wantExit(t, repo, nil, 3, "co-signature", "verify", "--chain", "--signatures", "--quorum", "1/3")
}

// TestRecordFromSignedHundredThousand appends 100,001 records with --sign:
// every record is signed, in the same transaction, and the command
// succeeds.
func TestRecordFromSignedHundredThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 100,001 records")
	}
	dir := newTrail(t, 0)
	mustAmi(t, dir, nil, "", "keygen", "--name", "ci", "--trust")
	out, errs, code := ami(t, dir, nil, batchLines(100001, "ci"), "--quiet", "record", "--from", "-", "--sign", "ci.key")
	if code != 0 {
		t.Fatalf("record --from --sign: exit %d\n%s", code, errs)
	}
	_ = out
	v := mustAmi(t, dir, nil, "", "verify", "--signatures", "--quorum", "1/1")
	if !strings.Contains(v, "100001 records checked, 100001 signed") {
		t.Fatalf("verify:\n%s", v)
	}
}

// TestAnotherTrailsStoreNamed: a store that holds another trail, named
// for a directory whose trail holds the log key, is reported as another
// trail (exit 3), not as a key problem, and nothing is appended to it.
func TestAnotherTrailsStoreNamed(t *testing.T) {
	a, b := newTrail(t, 1), newTrail(t, 1)
	env := []string{"AMI_AUDIT_STORE=sqlite:" + filepath.Join(b, ".audit", dbFile)}
	wantExit(t, a, env, 3, "it is another trail", "record", "--actor", "ci", "--action", "x", "--target", "y", "--target-type", "file")
	if out := mustAmi(t, b, nil, "", "verify"); !strings.Contains(out, "1 records") && !strings.Contains(out, "1 record,") {
		t.Fatalf("the other trail changed:\n%s", out)
	}
}
