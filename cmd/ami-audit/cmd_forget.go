package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/retention"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// forgetError maps the errors of redaction and retention to exit codes:
// a key that may not make the trail forget, a field that cannot be
// redacted and contradictory options are usage errors.
func (a *App) forgetError(err error) error {
	switch {
	case errors.Is(err, trail.ErrNotRedactor):
		return withHint(usageError{err}, "give a redactor key with --key (the log key .audit/log.key, unless redaction.redactors in .audit/config.yaml names others)")
	case errors.Is(err, audit.ErrNotCommitted), errors.Is(err, audit.ErrPruned), errors.Is(err, trail.ErrOptions), errors.Is(err, audit.ErrNotFound):
		return usageError{err}
	}
	return a.trailError(err)
}

func (a *App) redactCommand() *cobra.Command {
	var id, reason, keyPath string
	var fields []string
	cmd := &cobra.Command{
		Use:   "redact --record ID --field context.KEY --reason WHY --key FILE",
		Short: "Remove confidential values of a record, keeping the proofs",
		Long: `Remove the values of committed fields of a record (an erasure request, a
leaked value) without breaking the chain.

Records whose classification is committed (confidential and restricted by
default; redaction.classifications in .audit/config.yaml) keep a salted
commitment to each context and metadata value in their hashed form, and the
value itself beside the record. redact removes the value and its salt; the
commitment, the record hash, the chain, the Merkle tree, old checkpoints and
proofs all stay valid. In the same transaction it appends a record_redacted
record saying who redacted which fields of which record, when and why,
signed by --key, which must be a redactor key: the log key, unless
redaction.redactors in .audit/config.yaml names others. Nothing is ever
redacted implicitly.

A field the record hash covers in the clear (actor, action, target, reason,
timestamp, … or any value of a record whose classification is not
committed) cannot be redacted: that would break the chain. The store's
files are cleared of the removed bytes (SQLite: secure_delete, VACUUM and a
truncated write-ahead log; PostgreSQL: VACUUM — see the note it prints).

'ami-audit verify' then reports the field as redacted, with the record that
says so; a value missing without such a record is reported as tampering.`,
		Example: `  ami-audit redact --record 0193… --field context.user_email --reason "erasure request 2025-118" --key .audit/log.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			switch {
			case id == "":
				return usagef("--record is required")
			case len(fields) == 0:
				return usagef("--field is required (context.KEY or metadata.KEY; repeatable)")
			case strings.TrimSpace(reason) == "":
				return usagef("--reason is required: say why the value is removed")
			case keyPath == "":
				return withHint(usagef("--key is required: redaction needs a redactor key"), "the log key .audit/log.key, unless redaction.redactors in .audit/config.yaml names others")
			}
			for _, f := range fields {
				if _, _, ok := audit.SplitField(f); !ok {
					return usagef("--field %q: name a context or metadata member, e.g. context.user_email", f)
				}
			}
			signer, err := keys.LoadSigner(keyPath)
			if err != nil {
				return err
			}
			t, err := a.openTrail(ctx, false)
			if err != nil {
				return err
			}
			res, err := t.Redact(ctx, signer, id, fields, reason)
			if err != nil {
				return a.forgetError(err)
			}
			if len(res.Already) > 0 {
				fmt.Fprintf(a.stdout, "already redacted: %s\n", strings.Join(res.Already, ", "))
			}
			if res.Redaction == nil {
				fmt.Fprintln(a.stdout, "nothing left to redact; nothing appended")
				return nil
			}
			fmt.Fprintf(a.stdout, "redacted %s of record %d (%s); recorded as %s (sequence %d), signed by %s\n",
				strings.Join(res.Redacted, ", "), res.Record.Sequence, res.Record.RecordID, res.Redaction.RecordID, res.Redaction.Sequence, signer.Name())
			a.forgetNotice(res.Store)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "record", "", "id of the record")
	f.StringArrayVar(&fields, "field", nil, "field to redact: context.KEY or metadata.KEY (repeatable)")
	f.StringVar(&reason, "reason", "", "why the value is removed (recorded)")
	f.StringVar(&keyPath, "key", "", "a redactor's private key (the log key, or one named in redaction.redactors)")
	return cmd
}

// forgetNotice says how the store cleared what it removed.
func (a *App) forgetNotice(r ledger.ForgetResult) {
	if r.Scrubbed != "" {
		a.notice("store: %s", r.Scrubbed)
	}
	if r.Residue != "" {
		a.notice("note: %s", r.Residue)
	}
}

func (a *App) retentionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Apply retention policies and legal holds",
		Long: `Retention policies say how long records are kept, per target type, source
or classification (retention.policies in .audit/config.yaml):

  retention:
    policies:
      - name: logs
        target_type: log
        keep: 90d
      - name: evidence
        source: compliance_source
        keep: 7y

keep is a number and a unit: h, d, w, mo (months) or y (years). A record
matching several policies is kept by the longest; a record matching none is
kept for ever, and so are the records that say what the trail forgot.

'retention apply' prunes the records no policy keeps any longer: their
content goes, their record hashes and Merkle tree hashes stay, so the chain,
old checkpoints and proofs of the records kept still verify, and 'verify'
reports the pruned records as pruned, by which policy and which record.
Legal holds ('retention hold') keep records whatever the policies say.`,
	}
	cmd.AddCommand(a.retentionApplyCommand(), a.retentionStatusCommand(), a.retentionHoldCommand(), a.retentionReleaseCommand())
	return cmd
}

func (a *App) retentionApplyCommand() *cobra.Command {
	var keyPath, reason, now string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply --key FILE",
		Short: "Prune the records the retention policies no longer keep",
		Long: `Verify the whole trail, then prune, in one transaction, every record the
policies no longer keep and no legal hold protects, and append a
retention_applied record saying, per policy, how many records it pruned and
which (the SHA-256 of their sequence numbers), signed by --key, which must
be a redactor key (the log key unless redaction.redactors names others).
With nothing to prune nothing is appended. --dry-run counts without
changing anything.`,
		Example: `  ami-audit retention apply --key .audit/log.key
  ami-audit retention apply --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if keyPath == "" && !dryRun {
				return withHint(usagef("--key is required: pruning needs a redactor key"), "the log key .audit/log.key, or --dry-run to count")
			}
			o := trail.RetentionOptions{Reason: reason, DryRun: dryRun}
			if now != "" {
				t, err := datespec.Parse(now, time.Now())
				if err != nil {
					return usagef("--now: %v", err)
				}
				o.Now = t
			}
			t, err := a.openTrail(ctx, dryRun)
			if err != nil {
				return err
			}
			var signer note.Signer
			if !dryRun {
				if signer, err = keys.LoadSigner(keyPath); err != nil {
					return err
				}
			}
			meter := progress.New(a.stderr, a.progress(), "retention", "records", 0)
			o.Progress = func(n uint64) { meter.Add(int64(n) - meter.Count()) }
			res, err := t.ApplyRetention(ctx, signer, o)
			meter.Done()
			if err != nil {
				return a.forgetError(err)
			}
			verb := "pruned"
			if dryRun {
				verb = "would prune"
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POLICY\tKEEP\tBEFORE\tPRUNED")
			for _, p := range res.Claim.Policies {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", p.Policy, p.Keep, p.Cutoff[:10], p.Records)
			}
			tw.Flush()
			if res.Claim.KeptByHolds > 0 {
				fmt.Fprintf(a.stdout, "%s kept by legal holds\n", plural.Count(res.Claim.KeptByHolds, "expired record"))
			}
			switch {
			case res.Record != nil:
				fmt.Fprintf(a.stdout, "%s %s; recorded as %s (sequence %d)\n", verb, plural.Count(res.Pruned, "record"), res.Record.RecordID, res.Record.Sequence)
				a.forgetNotice(res.Store)
			case dryRun:
				fmt.Fprintf(a.stdout, "%s %s\n", verb, plural.Count(res.Pruned, "record"))
			default:
				fmt.Fprintln(a.stdout, "nothing to prune; nothing appended")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "a redactor's private key (the log key, or one named in redaction.redactors)")
	f.StringVar(&reason, "reason", "", "why (default: the policies that pruned)")
	f.StringVar(&now, "now", "", "evaluate the policies at this time instead of now (a date, RFC 3339, or e.g. \"30 days ago\")")
	f.BoolVar(&dryRun, "dry-run", false, "count what would be pruned; change nothing")
	return cmd
}

func (a *App) retentionStatusCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List the policies, the legal holds in force and the records kept longer than their policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if format != "text" && format != "json" {
				return usagef("--format %q: want text or json", format)
			}
			t, err := a.openTrail(ctx, true)
			if err != nil {
				return err
			}
			holds, err := t.Holds(ctx)
			if err != nil {
				return err
			}
			var overdue []retention.Decision
			n := map[string]int{}
			for d, err := range retention.Overdue(ctx, t.Raw(), t.RetentionSettings(), time.Now()) {
				if err != nil {
					return err
				}
				n[d.Policy.Name]++
				if len(overdue) < 100 {
					overdue = append(overdue, d)
				}
			}
			settings := t.RetentionSettings()
			if format == "json" {
				type od struct {
					Seq      uint64 `json:"sequence"`
					RecordID string `json:"record_id"`
					Policy   string `json:"policy"`
				}
				out := struct {
					Policies []retention.Policy `json:"policies"`
					Holds    []retention.Hold   `json:"legal_holds"`
					Overdue  map[string]int     `json:"overdue"`
					First    []od               `json:"first_overdue"`
				}{Policies: settings.Policies, Holds: holds, Overdue: n}
				for _, d := range overdue {
					out.First = append(out.First, od{d.Seq, d.RecordID, d.Policy.Name})
				}
				b, _ := json.MarshalIndent(out, "", "  ")
				fmt.Fprintf(a.stdout, "%s\n", b)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POLICY\tSELECTS\tKEEP\tOVERDUE")
			for _, p := range settings.Policies {
				var sel []string
				for _, kv := range [][2]string{{"target_type", p.TargetType}, {"source", p.Source}, {"classification", p.Classification}} {
					if kv[1] != "" {
						sel = append(sel, kv[0]+"="+kv[1])
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", p.Name, strings.Join(sel, " "), p.Keep, n[p.Name])
			}
			tw.Flush()
			if len(settings.Policies) == 0 {
				fmt.Fprintln(a.stdout, "no retention policies: every record is kept (retention.policies in .audit/config.yaml)")
			}
			for _, h := range holds {
				fmt.Fprintf(a.stdout, "legal hold %s: %s, placed by %s at %s: %s\n", h.ID, h, h.Actor, h.Time.UTC().Format(time.RFC3339), h.Reason)
			}
			total := 0
			for _, c := range n {
				total += c
			}
			if total > 0 {
				fmt.Fprintf(a.stdout, "%s kept longer than their policy allows: run 'ami-audit retention apply --key FILE'\n", plural.Count(total, "record"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().StringVar(&a.pubKey, "key", "", "the log's public key (default .audit/log.pub)")
	return cmd
}

func (a *App) retentionHoldCommand() *cobra.Command {
	var target, targetType, rangeText, reason, actor string
	cmd := &cobra.Command{
		Use:   "hold (--target T | --range A..B) --reason WHY",
		Short: "Place a legal hold: keep records whatever the policies say",
		Long: `Append a legal_hold record: the records about --target (or with a sequence
in --range A..B, B excluded) are never pruned until the hold is released
('retention release', which needs a redactor key). The hold's id is
printed.`,
		Example: `  ami-audit retention hold --target svc/api --reason "litigation 2025-7"
  ami-audit retention hold --range 1000..2000 --reason "incident 42"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if (target == "") == (rangeText == "") {
				return usagef("give --target T or --range A..B")
			}
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason is required")
			}
			if targetType != "" && !audit.TargetType(targetType).Valid() {
				return usagef("--target-type %q: want one of %s", targetType, strings.Join(targetTypeNames(), ", "))
			}
			var from, to uint64
			if rangeText != "" {
				var err error
				if from, to, err = parseRange(rangeText); err != nil {
					return usageError{err}
				}
				if to == 0 {
					return usagef("--range %q: a hold needs an end (A..B)", rangeText)
				}
			}
			t, err := a.openTrail(ctx, false)
			if err != nil {
				return err
			}
			rec, err := t.PlaceHold(ctx, target, audit.TargetType(targetType), from, to, actor, reason)
			if err != nil {
				return a.forgetError(appendError(err))
			}
			fmt.Fprintln(a.stdout, rec.RecordID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "", "keep every record about this target")
	f.StringVar(&targetType, "target-type", "", "the target's type (default: that of the newest record about it)")
	f.StringVar(&rangeText, "range", "", "keep the records with sequence A..B (B excluded)")
	f.StringVar(&reason, "reason", "", "why (recorded)")
	f.StringVar(&actor, "actor", "cli", "who places the hold")
	return cmd
}

func (a *App) retentionReleaseCommand() *cobra.Command {
	var id, reason, keyPath string
	cmd := &cobra.Command{
		Use:   "release --hold ID --reason WHY --key FILE",
		Short: "Release a legal hold (needs a redactor key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			switch {
			case id == "":
				return usagef("--hold is required")
			case strings.TrimSpace(reason) == "":
				return usagef("--reason is required")
			case keyPath == "":
				return usagef("--key is required: releasing a hold needs a redactor key")
			}
			signer, err := keys.LoadSigner(keyPath)
			if err != nil {
				return err
			}
			t, err := a.openTrail(ctx, false)
			if err != nil {
				return err
			}
			rec, err := t.ReleaseHold(ctx, signer, id, reason)
			if err != nil {
				return a.forgetError(appendError(err))
			}
			fmt.Fprintf(a.stdout, "released legal hold %s; recorded as %s\n", id, rec.RecordID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "hold", "", "id of the legal hold (its record)")
	f.StringVar(&reason, "reason", "", "why (recorded)")
	f.StringVar(&keyPath, "key", "", "a redactor's private key")
	return cmd
}

func targetTypeNames() []string {
	var out []string
	for _, t := range audit.TargetTypes {
		out = append(out, string(t))
	}
	return out
}
