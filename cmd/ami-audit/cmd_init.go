package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/trail"
)

func (a *App) initCommand() *cobra.Command {
	var opts trail.CreateOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the audit trail in .audit/ (store, config, log signing key)",
		Long: `Create the audit trail of the current directory in .audit/:

  .audit/audit.db      the embedded SQLite store (unless --store names another)
  .audit/config.yaml   the trail's settings and identity (origin, log id)
  .audit/log.key       the log's private signing key (mode 0600, never commit it)
  .audit/log.pub       the log's public key: give it to whoever checks the trail

Every trail has its own identity, fixed here: its origin and a random log
id, recorded in the store and in config.yaml. Only init (or the first
collection in a directory with no trail at all) creates a store; a trail
whose store later goes missing is reported, never silently replaced.

When --store names a store that already holds a trail (a team trail in
PostgreSQL), init joins it: it writes this directory's settings for that
log, and trusts the log key given with --key (or, without it, the key the
store recorded, whose fingerprint it prints: compare it with the owner's).
To append from this machine, copy the log's private key to .audit/log.key.

Running init again on an existing trail changes nothing.

When .audit is a symbolic link, every command says so on stderr; a link
that leads nowhere, or to a directory the group or others may write or
another user owns, is refused.`,
		Example: `  ami-audit init
  ami-audit init --difficulty 2
  ami-audit init --store postgres://audit@db.internal/audit
  ami-audit init --store postgres://audit@db.internal/audit --key team-log.pub   # join`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Difficulty < 0 || opts.Difficulty > ledger.MaxDifficulty {
				return usagef("--difficulty %d: want 0..%d", opts.Difficulty, ledger.MaxDifficulty)
			}
			if opts.Origin != "" && !keys.ValidName(opts.Origin) {
				return usagef("--origin %q: use no spaces and no '+'", opts.Origin)
			}
			t, created, err := trail.Create(cmd.Context(), a.trailConfig(false), opts)
			if err != nil {
				if errors.Is(err, trail.ErrExists) {
					return usageError{err}
				}
				return a.trailError(err)
			}
			a.trail = t
			for _, n := range t.Notices() {
				a.notice("%s", n)
			}
			abs := mustAbs(a.auditDir)
			id := t.Identity()
			switch created {
			case trail.Existed:
				fmt.Fprintf(a.stdout, "audit trail already initialized in %s (log %s)\n", abs, id.LogID)
			case trail.Joined:
				fmt.Fprintf(a.stdout, "joined the audit trail at %s in %s\norigin: %s\nlog id: %s\nlog key: %s\n", t.Location(), abs, id.Origin, id.LogID, trail.Fingerprint(t.PublicKey()))
			default:
				fmt.Fprintf(a.stdout, "initialized audit trail in %s\norigin: %s\nlog id: %s\nlog public key: %s (%s)\n",
					abs, id.Origin, id.LogID, filepath.Join(abs, trail.LogPubFile), trail.Fingerprint(t.PublicKey()))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Origin, "origin", "", "name of the log in its checkpoints (default: derived from the directory and the log id)")
	cmd.Flags().IntVar(&opts.Difficulty, "difficulty", 0, "proof-of-work difficulty: leading zero hex digits of every record hash")
	cmd.Flags().StringVar(&opts.JoinKey, "key", "", "when joining an existing trail: its log public key to trust")
	cmd.Flags().Var(committedFlag{&opts.Committed}, "commit", "classifications whose context and metadata values are committed, so that they can be redacted (default confidential,restricted; none for none)")
	return cmd
}

func (a *App) keygenCommand() *cobra.Command {
	var name, dir string
	var trust, redactor bool
	cmd := &cobra.Command{
		Use:   "keygen --name NAME",
		Short: "Create an Ed25519 signing key pair for a person or a service",
		Long: `Create NAME.key (private, mode 0600) and NAME.pub (public) in the
current directory or --dir. Give NAME.pub to whoever verifies signatures
(put it in their --trusted directory, or the trail's .audit/trusted/ with
--trust); keep NAME.key to yourself.

--redactor names the key in the trail's settings (redaction.redactors) as
one allowed to redact, apply retention and release legal holds. Once a
redactor is named, the log key no longer is one unless it is named too.`,
		Example: `  ami-audit keygen --name alice
  ami-audit sign --key alice.key --record 0193…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			if !keys.ValidName(name) {
				return usagef("--name %q: use letters, digits and punctuation other than '+', no spaces", name)
			}
			if !keys.ValidFileName(name) {
				return withHint(usagef("--name %q: a key name names files in --dir and may hold no '/', '\\' or '..'", name),
					"choose the directory with --dir and a plain name, e.g. --dir keys --name alice")
			}
			priv, pub := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
			for _, p := range []string{priv, pub} {
				if err := a.checkOutput(p); err != nil {
					return err
				}
			}
			vkey, err := keys.Generate(name, priv, pub)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "private key: %s (mode 0600, keep it secret)\npublic key:  %s\n", priv, pub)
			if trust {
				dst, err := trustKey(a.auditPath(trail.TrustedDir), name, pub)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "trusted:     %s ('verify --signatures' counts this key)\n", dst)
			}
			if redactor {
				first, err := trail.AddRedactor(a.auditDir, vkey)
				if err != nil {
					return a.trailError(err)
				}
				fmt.Fprintf(a.stdout, "redactor:    %s may redact and apply retention (%s)\n", name, a.auditPath(trail.ConfigFile))
				if first {
					a.notice("the log key no longer redacts: only the keys in redaction.redactors do")
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the signer's name, as it appears in signatures (required)")
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write the key files to")
	cmd.Flags().BoolVar(&trust, "trust", false, "also put the public key in the trail's trusted keys (.audit/trusted/)")
	cmd.Flags().BoolVar(&redactor, "redactor", false, "also name the key in the trail's settings as a redactor (redaction.redactors)")
	return cmd
}

// trustKey copies a public key file into the trusted keys directory.
func trustKey(dir, name, pub string) (string, error) {
	b, err := os.ReadFile(pub)
	if err != nil {
		return "", err
	}
	if _, err := keys.LoadVerifier(pub); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name+".pub")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return "", err
	}
	return dst, nil
}

// committedFlag reads --commit: a comma-separated list of
// classifications, or none.
type committedFlag struct{ p *[]string }

func (f committedFlag) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ",")
}

func (f committedFlag) Set(s string) error {
	*f.p = []string{}
	if strings.TrimSpace(s) == "none" {
		return nil
	}
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c == "" {
			return fmt.Errorf("an empty classification in %q", s)
		}
		*f.p = append(*f.p, c)
	}
	return nil
}

func (committedFlag) Type() string { return "classes" }
