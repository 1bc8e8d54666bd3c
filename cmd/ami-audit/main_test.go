package main

import (
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary double as the ami-audit command: scripts
// under testdata/script run it, and tests that need several processes exec
// "ami-audit" from PATH.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ami-audit": main, // with its handling of SIGINT and SIGTERM
	})
}

// TestScripts runs the end-to-end command-line scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits CODE CMD ARGS...: run CMD and require exit status CODE.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exits: %v", err)
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee):
					got = ee.ExitCode()
				case err != nil:
					ts.Fatalf("exits: %v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
			// sqlexec DB STATEMENT: change a store behind ami-audit's back.
			"sqlexec": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: sqlexec DB STATEMENT")
				}
				db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0]))
				if err != nil {
					ts.Fatalf("sqlexec: %v", err)
				}
				defer db.Close()
				_, err = db.Exec(args[1])
				if (err != nil) != neg {
					ts.Fatalf("sqlexec: %v", err)
				}
			},
			// setenv-stdout NAME: set NAME to the last command's standard
			// output, trimmed (e.g. a record id).
			"setenv-stdout": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
			},
			// mode MODE FILE...: require each file's permission bits to be MODE.
			"mode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: mode MODE FILE...")
				}
				want, err := strconv.ParseUint(args[0], 8, 32)
				if err != nil {
					ts.Fatalf("mode: %v", err)
				}
				for _, f := range args[1:] {
					fi, err := os.Stat(ts.MkAbs(f))
					if err != nil {
						ts.Fatalf("mode: %v", err)
					}
					if got := fi.Mode().Perm(); (got == os.FileMode(want)) == neg {
						ts.Fatalf("%s has mode %04o, want %s%04o", f, got, map[bool]string{true: "not ", false: ""}[neg], want)
					}
				}
			},
			// chmod MODE FILE
			"chmod": func(ts *testscript.TestScript, neg bool, args []string) {
				mode, err := strconv.ParseUint(args[0], 8, 32)
				if err != nil {
					ts.Fatalf("chmod: %v", err)
				}
				if err := os.Chmod(ts.MkAbs(args[1]), os.FileMode(mode)); err != nil {
					ts.Fatalf("chmod: %v", err)
				}
			},
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "1")
			// A trail left in a directory above the scripts' is never theirs.
			env.Setenv("AMI_AUDIT_CEILING_DIRECTORIES", filepath.Dir(env.WorkDir))
			// A small OSV database of real advisories.
			osv, err := filepath.Abs(filepath.Join("..", "..", "internal", "osvdb", "testdata", "osv"))
			if err != nil {
				return err
			}
			env.Setenv("OSVDB", osv)
			for _, kv := range [][2]string{{"GIT_AUTHOR_NAME", "Ada"}, {"GIT_AUTHOR_EMAIL", "ada@example.com"},
				{"GIT_COMMITTER_NAME", "Ada"}, {"GIT_COMMITTER_EMAIL", "ada@example.com"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}} {
				env.Setenv(kv[0], kv[1])
			}
			return nil
		},
	})
}
