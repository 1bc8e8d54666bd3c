package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/migrate"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// migrateSource is a store migrate can copy from.
type migrateSource interface {
	migrate.Store
	Identity() store.Identity
}

func (a *App) migrateCommand() *cobra.Command {
	var from, to string
	var chunk int
	var skipVerify bool
	cmd := &cobra.Command{
		Use:   "migrate --from URL --to URL",
		Short: "Copy a trail to another store and prove the copy",
		Long: `Copy every record of the trail at --from to the store at --to (created when
missing), keeping each record's id, timestamp, hashes, signatures and status,
then verify both stores and print the Merkle root they share.

The copy streams: memory does not grow with the trail. It commits in chunks
of --chunk records; if it stops, run the same command again and it continues
after the last committed chunk, once it has checked that the target's
records are exactly the source's first records. A target holding anything
else is refused.

Store URLs: sqlite:PATH, postgres://user@host/db (passwords are never
printed).`,
		Example: `  ami-audit migrate --from sqlite:.audit/audit.db --to postgres://audit@db.internal/audit`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if from == "" || to == "" {
				return usagef("give both --from URL and --to URL")
			}
			if from == to {
				return usagef("--from and --to are the same store")
			}
			s, err := a.registry.Open(ctx, from, store.Options{ReadOnly: true})
			if err != nil {
				return fmt.Errorf("source %s: %w", store.Redact(from), err)
			}
			defer s.Close()
			src, ok := s.(migrateSource)
			if !ok {
				return fmt.Errorf("source %s cannot be verified, so it cannot be migrated", store.Redact(from))
			}
			id := src.Identity()
			opts := store.Options{Create: true, Origin: id.Origin, LogID: id.LogID, LogKey: id.LogKey, Difficulty: id.Difficulty}
			// The copy is the same log: its tree heads are signed by the
			// same key, which must be here when the log has one.
			if k, err := keys.LoadKey(a.auditPath(trail.LogKeyFile)); err == nil && k.Signer.Name() == id.Origin {
				opts.Signer, opts.Verifier = k.Signer, k.Verifier
			} else if id.LogKey != "" {
				return withHint(fmt.Errorf("the log's tree heads are signed by its log key, which is not at %s: a copy made without it could not be signed", a.auditPath(trail.LogKeyFile)),
					"run migrate where the trail's log key is (or give --audit-dir)")
			}
			// Look at the target before anything is written to it: one
			// holding another log is refused up front.
			if p, err := a.registry.Open(ctx, to, store.Options{ReadOnly: true}); err == nil {
				other := ""
				if pi, ok := p.(interface{ Identity() store.Identity }); ok && pi.Identity().LogID != id.LogID {
					other = pi.Identity().LogID
				}
				p.Close()
				if other != "" {
					return usagef("target %s holds another trail (log %s); the source is log %s: migrate copies a trail into an empty store or a copy of itself", store.Redact(to), other, id.LogID)
				}
			} else if !errors.Is(err, audit.ErrNotInitialized) {
				return fmt.Errorf("target %s: %w", store.Redact(to), err)
			}
			d, err := a.registry.Open(ctx, to, opts)
			if err != nil {
				return fmt.Errorf("target %s: %w", store.Redact(to), err)
			}
			defer d.Close()
			dst, ok := d.(migrate.Store)
			if !ok {
				return fmt.Errorf("target %s cannot be verified, so it cannot receive a migration", store.Redact(to))
			}
			head, err := src.Head(ctx)
			if err != nil {
				return err
			}
			meter := progress.New(a.stderr, a.progress(), "migrate", "records", int64(head.Size))
			res, err := migrate.Copy(ctx, src, dst, migrate.Options{Chunk: chunk, SkipVerify: skipVerify,
				Progress: func(n uint64) { meter.Add(int64(n) - meter.Count()) }})
			meter.Done()
			if err != nil {
				if res.Copied > 0 {
					a.notice("%s copied and committed before the error; run the command again to continue", plural.Count(res.Copied, "record")+" "+plural.Pick(res.Copied, "was", "were"))
				}
				return err
			}
			a.notice("migrated %s to %s: %s already there, %d copied", store.Redact(from), store.Redact(to), plural.Count(res.Resumed, "record"), res.Copied)
			how := "both stores verified"
			if skipVerify {
				how = "from the stored tree hashes"
			}
			fmt.Fprintf(a.stdout, "origin %s\nsize %d\nroot %s\n(%s: source and target have the same Merkle root)\n", src.Origin(), res.Size, res.RootBase64(), how)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "store to copy from (required)")
	f.StringVar(&to, "to", "", "store to copy to, created when missing (required)")
	f.IntVar(&chunk, "chunk", 2000, "records per committed chunk")
	f.BoolVar(&skipVerify, "skip-verify", false, "compare the stored Merkle roots instead of verifying both stores in full")
	return cmd
}
