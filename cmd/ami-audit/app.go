package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ami-orchestrator/ami-audit/internal/version"
	"github.com/ami-orchestrator/ami-audit/secrets"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// App holds what every command shares: the streams, the global flags and
// the store, opened on first use and closed when the command ends.
type App struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	// global flags
	auditDir string // --audit-dir: where .audit lives
	storeURL string // --store, or $AMI_AUDIT_STORE
	cacheURL string // --cache, or $AMI_AUDIT_CACHE
	quiet    bool   // --quiet
	noColor  bool   // --no-color, or $NO_COLOR
	// --gitleaks-config: gitleaks rules for secret masking
	gitleaksConfig string

	pubKey string // --key of the commands that check signed heads: the log's public key

	registry      *store.Registry
	trail         *trail.Trail // opened on first use, closed when the command ends
	trailReadOnly bool

	// a trail created by this command (openTrail), until finishNewTrail
	createdTrail *createdTrail
	detector     *secrets.Detector // built on first use by secretDetector
}

func newApp(registry *store.Registry, stdin io.Reader, stdout, stderr io.Writer) *App {
	return &App{registry: registry, stdin: stdin, stdout: stdout, stderr: stderr}
}

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ami-audit",
		Short: "A tamper-evident, independently verifiable audit trail of a repository",
		Long: `ami-audit turns a repository, its services and its logs into a tamper-evident
audit trail: every record is hash-chained, every record is a leaf of a Merkle
tree, and signed checkpoints let anyone check the trail without trusting
whoever runs it.

Start with "ami-audit init" in a repository; the trail lives in .audit/.

Exit codes: 0 success, 1 operational error, 2 usage error,
3 verification failed, 4 a --fail-on gate tripped; with --exit-code,
9 to 15 when something drifted (8 plus 1 added, 2 removed, 4 changed).`,
		Version:       version.Read().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.resolveGlobals()
		},
	}
	root.SetVersionTemplate("ami-audit {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withHint(usageError{err}, "see '"+strings.TrimSpace("ami-audit "+commandPath(c))+" --help'")
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.auditDir, "audit-dir", "", "directory of the trail's files (default: the nearest .audit/ at or above the current directory, up to the top of its git repository, else ./.audit; env AMI_AUDIT_CEILING_DIRECTORIES stops the search as GIT_CEILING_DIRECTORIES does)")
	pf.StringVar(&a.storeURL, "store", "", "store URL: sqlite:PATH (default .audit/audit.db) or postgres://… (env AMI_AUDIT_STORE)")
	pf.StringVar(&a.cacheURL, "cache", "", "optional cache URL, redis://host:port/db (env AMI_AUDIT_CACHE)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print no progress and no notices")
	pf.BoolVar(&a.noColor, "no-color", false, "no colour in terminal output (also when NO_COLOR is set)")
	root.Flags().Bool("version", false, "print the version (module version, the commit it was built from) and exit")
	pf.StringVar(&a.gitleaksConfig, "gitleaks-config", "", "gitleaks TOML rules for finding secrets to mask (default: gitleaks' own rules; ami-audit's are always added)")
	for _, c := range a.commands() {
		root.AddCommand(c)
	}
	return root
}

// commands lists every subcommand. It is the one place commands are
// registered.
func (a *App) commands() []*cobra.Command {
	return []*cobra.Command{
		a.initCommand(),
		a.keygenCommand(),
		a.recordCommand(),
		a.queryCommand(),
		a.exportCommand(),
		a.signCommand(),
		a.checkpointCommand(),
		a.proveCommand(),
		a.verifyCommand(),
		a.redactCommand(),
		a.retentionCommand(),
		a.gitCommand(),
		a.repoCommand(),
		a.securityCommand(),
		a.complianceCommand(),
		a.reportCommand(),
		a.baselineCommand(),
		a.diffCommand(),
		a.logsCommand(),
		a.moduleCommand(),
		a.fileCommand(),
		a.qualityCommand(),
		a.servicesCommand(),
		a.serviceCommand(),
		a.migrateCommand(),
		a.watchCommand(),
		a.scheduleCommand(),
		a.dashboardCommand(),
		a.tokenCommand(),
		a.serveCommand(),
		a.mcpCommand(),
	}
}

func commandPath(c *cobra.Command) string {
	p := c.CommandPath()
	return strings.TrimSpace(strings.TrimPrefix(p, "ami-audit"))
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") ||
		strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") ||
		strings.Contains(msg, "arg(s)") ||
		strings.HasPrefix(msg, "required flag") ||
		strings.HasPrefix(msg, "invalid argument")
}

// resolveGlobals fills defaults from the environment.
func (a *App) resolveGlobals() error {
	if a.storeURL == "" {
		a.storeURL = os.Getenv("AMI_AUDIT_STORE")
	}
	if a.cacheURL == "" {
		a.cacheURL = os.Getenv("AMI_AUDIT_CACHE")
	}
	if os.Getenv("NO_COLOR") != "" {
		a.noColor = true
	}
	if a.auditDir == "" {
		a.auditDir = findAuditDir()
	}
	return nil
}

// findAuditDir returns the nearest .audit directory at or above the
// working directory, or ./.audit when there is none. The search stops at
// the top of the git repository it starts in (a trail belongs to its
// repository: a parent directory's trail never captures a repository
// below it; a submodule's search goes on into its superproject), and it
// never enters a directory of AMI_AUDIT_CEILING_DIRECTORIES (a list like
// PATH, as git's GIT_CEILING_DIRECTORIES).
func findAuditDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ".audit"
	}
	var ceilings []string
	for _, c := range filepath.SplitList(os.Getenv("AMI_AUDIT_CEILING_DIRECTORIES")) {
		if c != "" {
			ceilings = append(ceilings, filepath.Clean(c))
		}
	}
	for dir := wd; ; {
		p := filepath.Join(dir, ".audit")
		if fi, err := os.Lstat(p); err == nil && (fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0) {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir || repositoryTop(dir) || slices.Contains(ceilings, parent) {
			return filepath.Join(wd, ".audit")
		}
		dir = parent
	}
}

// repositoryTop reports whether dir is the top of a git work tree other
// than a submodule's: it holds a .git directory, or a .git file that does
// not lead into a superproject's modules.
func repositoryTop(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, ".git"))
	switch {
	case err != nil:
		return false
	case fi.IsDir():
		return true
	}
	b, err := os.ReadFile(filepath.Join(dir, ".git"))
	if err != nil {
		return true
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	return !ok || !strings.Contains(filepath.ToSlash(gitdir), "/modules/")
}

// isTerminal reports whether w is a terminal (for colour and progress).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colour reports whether output to stdout may use ANSI colour.
func (a *App) colour() bool { return !a.noColor && isTerminal(a.stdout) }

// progress reports whether progress may be drawn on stderr.
func (a *App) progress() bool { return !a.quiet && isTerminal(a.stderr) }

func (a *App) close() {
	if a.trail != nil {
		if err := a.trail.Close(); err != nil {
			fmt.Fprintf(a.stderr, "ami-audit: closing the trail: %v\n", err)
		}
		a.trail = nil
	}
}
