package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
	"github.com/ami-orchestrator/ami-audit/storetest"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// plantedSecrets are written into a repository's logs, history and files;
// none may reach the trail, an export or a report.
var plantedSecrets = map[string]string{
	"aws key id":     "AKIAZ3MSJV4WRUWMW4YJ",
	"aws secret":     "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",
	"pem body":       "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
	"postgres pw":    "S3cretPgPw",
	"github token":   "ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r",
	"slack webhook":  "aBcDeFgHiJkLmNoPqRsTuVwX",
	"bearer":         "abcdef0123456789abcdefXYZ",
	"slack token":    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
	"json password":  "Tr0ub4dor&3",
	"note key":       "AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS",
	"query password": "TopSecretQueryPW",
	"bare aws pair":  "q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd",
}

// plantLogs writes logs holding every planted secret, in several formats.
func plantLogs(t *testing.T, dir string) {
	t.Helper()
	s := plantedSecrets
	files := map[string]string{
		"logs/app.log": "2024-05-01 10:00:00 ERROR upload failed for AKIAZ3MSJV4WRUWMW4YJ\n" +
			"2024-05-01 10:00:01 ERROR aws_secret_access_key=" + s["aws secret"] + " rejected\n" +
			"2024-05-01 10:00:02 ERROR loaded key\n-----BEGIN RSA PRIVATE KEY-----\n" + s["pem body"] + "\n" + s["pem body"] + "\n-----END RSA PRIVATE KEY-----\n" +
			"2024-05-01 10:00:03 ERROR connect postgres://admin:" + s["postgres pw"] + "@db.example.com:5432/app failed\n" +
			"2024-05-01 10:00:04 WARNING pushing with token " + s["github token"] + "\n" +
			"2024-05-01 10:00:05 ERROR webhook https://hooks.slack.com/services/T0AB1CD2E/B0FG3HI4J/" + s["slack webhook"] + " timed out\n" +
			"2024-05-01 10:00:06 INFO request Authorization: Bearer " + s["bearer"] + "\n" +
			"2024-05-01 10:00:07 DEBUG slack bot " + s["slack token"] + "\n" +
			"2024-05-01 10:00:08 ERROR signing with PRIVATE+KEY+ami-audit.local/x+1a2b3c4d+" + s["note key"] + "\n" +
			"2024-05-01 10:00:09 ERROR dsn postgres://u@db/app?sslmode=disable&password=" + s["query password"] + "\n" +
			"2024-05-01 10:00:10 DEBUG using AKIAQ7XPL3MN4RT5VW6Y / " + s["bare aws pair"] + "\n",
		"logs/api.json.log": `{"timestamp":"2024-05-01T10:00:00Z","level":"error","message":"login failed {\"user\":\"bob\",\"password\":\"` + strings.ReplaceAll(s["json password"], "&", `\u0026`) + `\"}"}` + "\n" +
			`{"timestamp":"2024-05-01T10:00:01Z","level":"error","message":"key AKIAZ3MSJV4WRUWMW4YJ denied"}` + "\n",
	}
	writeFiles(t, dir, files)
}

// allRecords reads every record of the SQLite trail in auditDir.
func allRecords(t *testing.T, auditDir string) []*audit.Record {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(auditDir, trail.DBFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []*audit.Record
	for r, err := range s.Query(ctx, audit.Filter{Limit: -1}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// grepTree fails for every file under dir whose bytes hold one of needles.
func grepTree(t *testing.T, dir string, needles map[string]string, except ...string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || slices.Contains(except, d.Name()) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for name, n := range needles {
			if strings.Contains(string(b), n) {
				t.Errorf("%s holds the %s %q", p, name, n)
			}
		}
		return nil
	})
}

// TestLogsNeverReadTrailOrGit: "logs --dir=. --each --level=debug" in a
// repository reads neither .audit/ (its private key) nor .git/, and no
// planted secret reaches the trail.
func TestLogsNeverReadTrailOrGit(t *testing.T) {
	ctx := context.Background()
	repo := t.TempDir()
	if _, err := gitgen.Generate(ctx, repo, gitgen.Options{Seed: 2, Commits: 8, SubmoduleCommits: -1}); err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(repo, ".audit")
	if code, _, errOut := runCLI(t, "--audit-dir", auditDir, "init"); code != exitOK {
		t.Fatalf("init: %s", errOut)
	}
	plantLogs(t, repo)
	key, err := os.ReadFile(filepath.Join(auditDir, trail.LogKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	keyText := strings.TrimSpace(string(key))
	code, out, errOut := runCLI(t, "--audit-dir", auditDir, "logs", "--dir", repo, "--each", "--level", "debug", "--format", "json")
	if code != exitOK {
		t.Fatalf("logs: exit %d: %s", code, errOut)
	}
	recs := allRecords(t, auditDir)
	if len(recs) == 0 {
		t.Fatal("nothing recorded")
	}
	var files []string
	for _, r := range recs {
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), keyText[len("PRIVATE+KEY+"):]) {
			t.Errorf("record %s %s holds the log's private key", r.Action, r.Target)
		}
		for _, c := range []string{"/.git/", "/.audit/", "gitdir:", "refs/heads"} {
			if strings.Contains(string(b), c) {
				t.Errorf("record %s %s mentions %q", r.Action, r.Target, c)
			}
		}
		if r.Action == "log_file_summary" {
			files = append(files, r.Target) // relative to the repository
		}
	}
	for _, want := range []string{"logs/api.json.log", "logs/app.log"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s not read; files read: %v", want, files)
		}
	}
	masked := 0
	for _, r := range recs {
		b, _ := json.Marshal(r)
		masked += strings.Count(string(b), "[REDACTED ")
	}
	if masked < len(plantedSecrets) {
		t.Errorf("%d markers in the trail, want at least %d", masked, len(plantedSecrets))
	}
	needles := map[string]string{"log key": keyText[len("PRIVATE+KEY+"):]}
	for k, v := range plantedSecrets {
		needles[k] = v
	}
	grepTree(t, auditDir, needles, trail.LogKeyFile)
	for name, n := range needles {
		if strings.Contains(out, n) {
			t.Errorf("the report holds the %s", name)
		}
	}
	exportDir := t.TempDir()
	for _, f := range []string{"jsonl", "json", "yaml", "csv"} {
		if code, _, errOut := runCLI(t, "--audit-dir", auditDir, "export", "--format", f, "--output", filepath.Join(exportDir, "trail."+f)); code != exitOK {
			t.Fatalf("export %s: %s", f, errOut)
		}
	}
	grepTree(t, exportDir, needles)
}

// TestStorePasswordNeverPrinted: a password in a store or cache URL, in
// the user information, as ?password= or percent-encoded, or in a libpq
// keyword string, appears in no message.
func TestStorePasswordNeverPrinted(t *testing.T) {
	const pw = "TopSecretPW"
	for _, loc := range []string{
		"postgres://u:" + pw + "@127.0.0.1:1/audit?connect_timeout=1",
		"postgres://u@127.0.0.1:1/audit?connect_timeout=1&password=" + pw,
		"postgres://u:p%40" + pw + "@127.0.0.1:1/audit?connect_timeout=1",
		"postgres://u:" + pw + "%zz@127.0.0.1:1/audit",
		"host=127.0.0.1 port=1 password=" + pw,
	} {
		dir := t.TempDir()
		code, out, errOut := runCLI(t, "--audit-dir", filepath.Join(dir, ".audit"), "--store", loc, "query")
		if code == exitOK {
			t.Errorf("%s: query succeeded", loc)
		}
		if strings.Contains(out+errOut, pw) {
			t.Errorf("--store %s: the password is printed:\n%s%s", loc, out, errOut)
		}
	}
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "--audit-dir", filepath.Join(dir, ".audit"), "--cache", "redis://:"+pw+"@127.0.0.1:1/0?dial_timeout=1s", "record",
		"--actor", "ci", "--action", "x", "--target", "t", "--target-type", "file")
	if strings.Contains(out+errOut, pw) {
		t.Errorf("--cache: the password is printed (exit %d):\n%s%s", code, out, errOut)
	}
}

// TestStorePasswordNeverWritten: init with a password in the store URL
// writes the URL without it; the password comes from PGPASSWORD next time.
func TestStorePasswordNeverWritten(t *testing.T) {
	base := pgtest.URL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "TopSecretPW"
	u.User = url.UserPassword(u.User.Username(), pw)
	q := u.Query()
	schema := storetest.RandomName("t_")
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	conn := pgtest.Conn(t, base)
	t.Cleanup(func() { conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })

	dir := t.TempDir()
	auditDir := filepath.Join(dir, ".audit")
	code, out, errOut := runCLI(t, "--audit-dir", auditDir, "--store", u.String(), "init")
	if code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, pw) {
		t.Errorf("init printed the password:\n%s%s", out, errOut)
	}
	if !strings.Contains(errOut, "PGPASSWORD") {
		t.Errorf("init does not say where the password goes: %s", errOut)
	}
	grepTree(t, auditDir, map[string]string{"store password": pw}, trail.LogKeyFile)
	cfg, err := os.ReadFile(filepath.Join(auditDir, trail.ConfigFile))
	if err != nil || !strings.Contains(string(cfg), schema) {
		t.Fatalf("config %s: %v", cfg, err)
	}
	gi, _ := os.ReadFile(filepath.Join(auditDir, ".gitignore"))
	for _, want := range []string{"*.key", "*.db-wal"} {
		if !strings.Contains(string(gi), want) {
			t.Errorf(".gitignore lacks %s:\n%s", want, gi)
		}
	}
	// The stored URL (without password) opens the store.
	t.Setenv("PGPASSWORD", pw)
	if code, _, errOut := runCLI(t, "--audit-dir", auditDir, "record", "--actor", "ci", "--action", "x", "--target", "t", "--target-type", "file"); code != exitOK {
		t.Fatalf("record with the configured store: exit %d: %s", code, errOut)
	}
}

// TestEveryCollectorMasks: commands and the collections they run build
// collectors only through collect.Env.Collector, which sets the masking
// step; one that called batch.New itself would append unmasked records.
func TestEveryCollectorMasks(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*.go", "../../collect/*.go"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d files to check", len(files))
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == filepath.Join("..", "..", "collect", "collect.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "batch.New(") {
			t.Errorf("%s builds a collector with batch.New: use collect.Env.Collector, which masks every record", f)
		}
	}
}
