package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

func (a *App) initCommand() *cobra.Command {
	var origin string
	var difficulty int
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the audit trail in .audit/ (store, config, log signing key)",
		Long: `Create the audit trail of the current directory in .audit/:

  .audit/audit.db      the embedded SQLite store (unless --store names another)
  .audit/config.yaml   the trail's settings (origin, proof-of-work difficulty)
  .audit/log.key       the log's private signing key (mode 0600, never commit it)
  .audit/log.pub       the log's public key: give it to whoever checks checkpoints

Running init again on an existing trail changes nothing but upgrades the
store's schema if this ami-audit is newer.`,
		Example: `  ami-audit init
  ami-audit init --difficulty 2
  ami-audit init --store postgres://audit@db.internal/audit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if difficulty < 0 || difficulty > ledger.MaxDifficulty {
				return usagef("--difficulty %d: want 0..%d", difficulty, ledger.MaxDifficulty)
			}
			if origin != "" && !keys.ValidName(origin) {
				return usagef("--origin %q: use no spaces and no '+'", origin)
			}
			created, err := a.initTrail(cmd.Context(), origin, difficulty)
			if err != nil {
				return err
			}
			abs := mustAbs(a.auditDir)
			if !created {
				fmt.Fprintf(a.stdout, "audit trail already initialized in %s\n", abs)
				return nil
			}
			fmt.Fprintf(a.stdout, "initialized audit trail in %s\nlog public key: %s\n", abs, filepath.Join(abs, logPubFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&origin, "origin", "", "name of the log in its checkpoints (default: derived from the directory, made unique)")
	cmd.Flags().IntVar(&difficulty, "difficulty", 0, "proof-of-work difficulty: leading zero hex digits of every record hash")
	return cmd
}

func (a *App) keygenCommand() *cobra.Command {
	var name, dir string
	cmd := &cobra.Command{
		Use:   "keygen --name NAME",
		Short: "Create an Ed25519 signing key pair for a person or a service",
		Long: `Create NAME.key (private, mode 0600) and NAME.pub (public) in the
current directory or --dir. Give NAME.pub to whoever verifies signatures
(put it in their --trusted directory); keep NAME.key to yourself.`,
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
			priv, pub := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
			if _, err := keys.Generate(name, priv, pub); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "private key: %s (mode 0600, keep it secret)\npublic key:  %s\n", priv, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the signer's name, as it appears in signatures (required)")
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write the key files to")
	return cmd
}
