package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/analyzer/security"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
)

// securityFlags are the flags of "ami-audit security".
type securityFlags struct {
	history  bool
	baseline string
	osvDB    string
	skip     []string
	failOn   failOnFlag
	out      outputFlags
}

func (a *App) securityCommand() *cobra.Command {
	var f securityFlags
	cmd := &cobra.Command{
		Use:   "security [PATH]",
		Short: "Find secrets, vulnerable dependencies, permission problems and insecure code patterns",
		Long: `Run the security analyzer over the repository in the current directory (or
PATH) and the trail, append its new, changed and resolved findings to the
trail, and print the open ones.

Checks:
  secrets       credentials and private keys in the files git would commit,
                found with gitleaks' rules (the repository's .gitleaks.toml
                when it has one) and ami-audit's (passwords in URLs, C2SP note
                keys, ...); "gitleaks:allow" lines and the fingerprints of
                .gitleaksignore and --baseline are accepted. A finding keeps
                the rule, the place and a keyed fingerprint of the secret,
                never the secret itself.
  secrets_history  with --history: the lines every commit of every branch
                added, in the repository and its submodules, as "gitleaks git"
                scans them.
  dependencies  the dependencies the module source recorded (ami-audit module
                --all --include-dependencies, or ami-audit repo) against a local
                OSV database given with --osv-db DIR: osv-scanner's offline
                database, or the osv.dev export <Ecosystem>/all.zip for PyPI,
                npm and Go. Without a database the report says plainly that
                dependencies were not checked, and the trail records it.
  permissions   world-writable files and directories, setuid and setgid files,
                executable data files, among the files git would commit.
  patterns      the insecure-code violations (ruff S rules, bandit, gosec) the
                quality source recorded.

A finding is recorded once: a second run on unchanged input appends nothing,
and a finding that went away is recorded as resolved. Query them with
"ami-audit query --action=security_finding".

--format=sarif writes SARIF 2.1.0 for code-scanning views (GitHub, GitLab).
--fail-on=SEVERITY exits with status 4 when an open finding reaches it.`,
		Example: `  ami-audit security
  ami-audit security --history
  ami-audit security --baseline gitleaks-report.json
  ami-audit security --osv-db ~/.cache/osv-scanner
  ami-audit security --format=sarif --output=security.sarif
  ami-audit security --fail-on=high`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			return a.runSecurity(cmd, dir, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.history, "history", false, "also scan every commit of every branch (and of submodules) for secrets")
	fl.StringVar(&f.baseline, "baseline", "", "FILE of accepted secret findings: a gitleaks JSON report, or gitleaks fingerprints (file:rule:line, commit:file:rule:line) one per line")
	fl.StringVar(&f.osvDB, "osv-db", "", "local OSV database DIR (osv-scanner's offline database, or <Ecosystem>/all.zip files)")
	fl.StringSliceVar(&f.skip, "skip", nil, "checks not to run: secrets (the working tree's; --history scans the history), dependencies, permissions, patterns")
	fl.StringVar(&f.failOn.value, "fail-on", "", failOnHelp)
	addOutputFlags(cmd, &f.out)
	return cmd
}

func (a *App) runSecurity(cmd *cobra.Command, dir string, f securityFlags) error {
	ctx := cmd.Context()
	if err := f.out.check(); err != nil {
		return err
	}
	if _, err := f.failOn.severity(); err != nil {
		return err
	}
	for _, s := range f.skip {
		switch s {
		case security.CheckSecrets, security.CheckDependencies, security.CheckPermissions, security.CheckPatterns:
		default:
			return usagef("--skip %q: want secrets, dependencies, permissions or patterns", s)
		}
	}
	root := dir
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		root = repositoryRoot(wd)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(root); err != nil {
		return usagef("repository %s: %v", dir, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return usagef("repository %s: not a directory", dir)
	}
	if f.osvDB != "" {
		if fi, err := os.Stat(f.osvDB); err != nil || !fi.IsDir() {
			return withHint(usagef("--osv-db %s: not a directory", f.osvDB), "give the directory that holds PyPI/all.zip, npm/all.zip, Go/all.zip (or osv-scanner's cache directory)")
		}
	}
	if f.baseline != "" && !fileExists(f.baseline) {
		return withHint(usagef("--baseline %s: no such file", f.baseline), "give a gitleaks JSON report or a file of gitleaks fingerprints")
	}
	meter := progress.New(a.stderr, a.progress(), "security", "files and changes", 0)
	defer meter.Done()
	res, err := collect.Security(ctx, a.env(), collect.SecurityRequest{Root: root, Progress: meter.Add,
		Config: security.Config{OSVDB: f.osvDB, Skip: f.skip, History: f.history, Baseline: f.baseline}})
	meter.Done()
	if res == nil {
		return err
	}
	if err := a.render(f.out, res.Report); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	return f.failOn.gate(res.Report.Findings)
}
