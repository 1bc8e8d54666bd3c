package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/jsonl"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

func (a *App) recordCommand() *cobra.Command {
	var (
		rec                   audit.Record
		targetType, severity  string
		timestamp             string
		contextKV             []string
		contextJSON, metaJSON string
		from                  string
		signKeys              []string
		printJSON             bool
	)
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Append records: one from flags, or many as JSON lines",
		Long: `Append one record described by flags, or many given as JSON lines with
--from FILE (or - for standard input), one record object per line.

A JSON-lines batch is atomic: if any line is wrong, nothing is appended and
the error names the line and the field. Each object has the record fields:
actor, action, target, target_type (required); timestamp (RFC 3339, default
now), source, reason, severity, classification, context, metadata, findings,
violations, record_id (UUIDv7, default new). record_hash, previous_hash,
sequence, nonce and signatures are assigned by the trail.

Field names are exact, in lower case as written here: another spelling
("Actor", "TARGET_TYPE") or an unknown member is refused, as are duplicate
members, invalid UTF-8 and lone surrogate escapes.

target_type is one of: file, module, service, log, git, quality.
severity is one of: debug, info, warning, error, critical.

The record id(s) are printed on standard output, one per line.`,
		Example: `  ami-audit record --actor ci --action deploy --target svc/api --target-type service --reason "release 1.4"
  ami-audit record --actor ci --action deploy --target svc/api --target-type service --context version=1.4 --sign ci.key
  some-tool --jsonl | ami-audit record --from -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var signers []note.Signer
			for _, k := range signKeys {
				s, err := keys.LoadSigner(k)
				if err != nil {
					return err
				}
				signers = append(signers, s)
			}
			if from != "" {
				if cmd.Flags().Changed("actor") || cmd.Flags().Changed("action") || cmd.Flags().Changed("target") {
					return usagef("--from reads records from JSON lines; do not combine it with --actor, --action or --target")
				}
				return a.recordFrom(ctx, from, signers)
			}
			missing := []string{}
			for _, f := range []string{"actor", "action", "target", "target-type"} {
				if !cmd.Flags().Changed(f) {
					missing = append(missing, "--"+f)
				}
			}
			if len(missing) > 0 {
				return withHint(usagef("missing %s", strings.Join(missing, ", ")), "give --actor, --action, --target and --target-type, or --from FILE with JSON lines")
			}
			if err := reservedAction(rec.Action); err != nil {
				return err
			}
			rec.TargetType = audit.TargetType(targetType)
			if severity != "" {
				sev, err := audit.ParseSeverity(severity)
				if err != nil {
					return usagef("--severity: %v", err)
				}
				rec.Severity = sev
			}
			if timestamp != "" {
				t, err := datespec.Parse(timestamp, time.Now())
				if err != nil {
					return usagef("--timestamp: %v", err)
				}
				if t.IsZero() {
					return usagef("--timestamp %s is the zero time, not when anything happened; give the real time, or leave --timestamp out for now", timestamp)
				}
				rec.Timestamp = t
			}
			var err error
			if rec.Context, err = parseObject("--context-json", contextJSON); err != nil {
				return err
			}
			if rec.Metadata, err = parseObject("--metadata-json", metaJSON); err != nil {
				return err
			}
			for _, kv := range contextKV {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usagef("--context %q: want key=value", kv)
				}
				rec.Context[k] = v
			}
			rec.Normalize()
			if err := rec.Validate(); err != nil {
				return usageError{err}
			}
			r := &rec
			if err := collect.AppendRecord(ctx, a.env(), r, signers); err != nil {
				return appendError(err)
			}
			if printJSON {
				b, _ := r.AppendJSON(nil)
				fmt.Fprintf(a.stdout, "%s\n", b)
				return nil
			}
			fmt.Fprintln(a.stdout, r.RecordID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rec.Actor, "actor", "", "who acted (user, service, system)")
	f.StringVar(&rec.Action, "action", "", "what was done, e.g. deploy, git_commit, dataops_delete")
	f.StringVar(&rec.Target, "target", "", "what it was done to (path, module, service)")
	f.StringVar(&targetType, "target-type", "", "file, module, service, log, git or quality")
	f.StringVar(&rec.Reason, "reason", "", "why it was done")
	f.StringVar(&rec.Source, "source", "cli", "how the record was collected")
	f.StringVar(&severity, "severity", "", "debug, info (default), warning, error or critical")
	f.StringVar(&rec.Classification, "classification", "", "data classification: public, internal (default), confidential, restricted")
	f.StringVar(&timestamp, "timestamp", "", "when it happened: RFC 3339, a date, or e.g. \"5 minutes ago\" (default now)")
	f.StringArrayVar(&contextKV, "context", nil, "context entry key=value (repeatable)")
	f.StringVar(&contextJSON, "context-json", "", "context as a JSON object")
	f.StringVar(&metaJSON, "metadata-json", "", "metadata as a JSON object")
	f.StringVar(&from, "from", "", "read records as JSON lines from FILE, or - for standard input")
	f.StringArrayVar(&signKeys, "sign", nil, "sign the appended record(s) with this private key (repeatable)")
	f.BoolVar(&printJSON, "json", false, "print the appended record as JSON instead of its id")
	return cmd
}

// recordIDArg returns the id of a record given with --record in any
// spelling of its UUID (upper case, urn:uuid:, braces): records hold the one
// canonical spelling. "" stays "".
func recordIDArg(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	c, ok := audit.CanonicalID(id)
	if !ok {
		return "", usagef("--record %q: not a record id (a UUID such as 01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4e5f)", id)
	}
	return c, nil
}

func parseObject(flag, s string) (map[string]any, error) {
	m := map[string]any{}
	if s == "" {
		return m, nil
	}
	v, err := canonical.Decode([]byte(s))
	if err != nil {
		return nil, usagef("%s: not valid JSON: %v", flag, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, usagef("%s: want a JSON object", flag)
	}
	return obj, nil
}

// recordFrom appends the JSON lines of path atomically.
func (a *App) recordFrom(ctx context.Context, path string, signers []note.Signer) error {
	var in io.Reader = a.stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, path
	}
	if _, err := a.openStore(ctx); err != nil {
		return err
	}
	if _, err := a.secretDetector(); err != nil {
		return err
	}
	meter := progress.New(a.stderr, a.progress(), "record", "records", 0)
	defer meter.Done()
	var ids []string
	keepIDs := true
	n, err := collect.AppendRecords(ctx, a.env(), jsonl.Read(in, "cli"), signers, func(r *audit.Record) {
		meter.Add(1)
		if keepIDs {
			ids = append(ids, r.RecordID)
			if len(ids) > 100000 {
				keepIDs = false
				ids = nil
			}
		}
	})
	meter.Done()
	if err != nil {
		var le *jsonl.LineError
		var be *ledger.BatchError
		switch {
		case errors.As(err, &le):
			return usageError{fmt.Errorf("%s: %w; nothing was appended", name, le)}
		case errors.As(err, &be) && !errors.Is(err, ledger.ErrTampered):
			return usageError{fmt.Errorf("%s: record %d: %w; nothing was appended", name, be.Index+1, be.Err)}
		}
		return appendError(fmt.Errorf("%s: %w; nothing was appended", name, err))
	}
	if keepIDs {
		for _, id := range ids {
			fmt.Fprintln(a.stdout, id)
		}
	}
	how := ""
	if len(signers) > 0 {
		how = fmt.Sprintf(", each signed by %s in the same transaction", plural.Count(len(signers), "key"))
	}
	a.notice("appended %s from %s%s", plural.Count(n, "record"), name, how)
	return nil
}

// reservedAction refuses the actions of the records only the trail itself
// appends, each with what it removed (redact, retention).
func reservedAction(action string) error { return collect.ReservedAction(action) }
