package main

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/disclose"
	"github.com/ami-orchestrator/ami-audit/export"
	"github.com/ami-orchestrator/ami-audit/graph"
	"github.com/ami-orchestrator/ami-audit/internal/filterspec"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// filterFlags are the record filter flags query and export share.
type filterFlags struct {
	targetType, action, actor, user, target, module, severity, since, until string
	limit                                                                   int
	newest                                                                  bool
}

func (ff *filterFlags) register(cmd *cobra.Command, defaultLimit int) {
	f := cmd.Flags()
	f.StringVar(&ff.action, "action", "", "only records of this action")
	f.StringVar(&ff.actor, "actor", "", "only records by this actor")
	f.StringVar(&ff.user, "user", "", "same as --actor")
	f.StringVar(&ff.target, "target", "", "only records about this target")
	f.StringVar(&ff.module, "module", "", "only records about this module (target_type module)")
	f.StringVar(&ff.targetType, "target-type", "", "only this target type: file, module, service, log, git, quality")
	f.StringVar(&ff.severity, "severity", "", "only this severity and above: debug, info, warning, error, critical")
	f.StringVar(&ff.since, "since", "", "from this time on: a date, RFC 3339, or e.g. \"7 days ago\"")
	f.StringVar(&ff.until, "until", "", "before this time (same forms as --since)")
	f.IntVar(&ff.limit, "limit", defaultLimit, "at most this many records (0: no limit)")
	f.BoolVar(&ff.newest, "newest", false, "the newest matching records, newest first")
}

func (ff *filterFlags) filter(now time.Time) (audit.Filter, error) {
	f, err := filterspec.Spec{TargetType: ff.targetType, Action: ff.action, Actor: ff.actor, User: ff.user, Target: ff.target,
		Module: ff.module, Severity: ff.severity, Since: ff.since, Until: ff.until, Newest: ff.newest}.Filter(now, func(n string) string { return "--" + n })
	if err != nil {
		return f, err
	}
	f.Limit = ff.limit
	if ff.limit == 0 {
		f.Limit = -1
	}
	if ff.limit < 0 {
		return f, usagef("--limit must not be negative")
	}
	if err := f.Validate(); err != nil {
		return f, usageError{err}
	}
	return f, nil
}

func (a *App) queryCommand() *cobra.Command {
	var ff filterFlags
	var format, output, provenance, reveal string
	var follow, neighbourhood bool
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Find records by action, actor, target, severity and time",
		Long: `Print the records that match every given filter, oldest first (or the
newest first with --newest), at most --limit of them.

--provenance TARGET prints every record about TARGET in order: who did
what to it, and when.

--provenance TARGET --neighbourhood also lists the actors who touched it and
the records about other targets whose context names it.

--follow prints the matching records appended from now on, as they are
committed, until interrupted (via the Redis cache's announcements when
--cache is set, otherwise by reading the store every --poll).

` + revealHelp + `

Formats: table (default), json, jsonl, yaml, csv.`,
		Example: `  ami-audit query --action=deploy --since="7 days ago" --format=json
  ami-audit query --severity=error --newest --limit 20
  ami-audit query --provenance svc/api`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			access, err := disclose.ParseAccess(reveal)
			if err != nil {
				return usageError{err}
			}
			if provenance != "" {
				f = audit.Filter{Target: provenance, Limit: -1}
			}
			if format != "table" && !export.Valid(format) {
				return usagef("--format %q: want table, %s", format, strings.Join(export.Formats, ", "))
			}
			if err := a.checkOutput(output); err != nil {
				return err
			}
			s, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			if follow {
				return a.follow(cmd.Context(), s, f, format, poll)
			}
			if neighbourhood {
				if provenance == "" {
					return usagef("--neighbourhood goes with --provenance TARGET")
				}
				return a.printNeighbourhood(cmd.Context(), s, provenance, format, output, provenanceLimit(ff.limit))
			}
			return a.writeOutput(output, func(w io.Writer) error {
				var rw export.Writer
				if format == "table" {
					rw = newTableWriter(w)
				} else if rw, err = export.New(w, format); err != nil {
					return err
				}
				for r, err := range readable(cmd.Context(), s, access, s.Query(cmd.Context(), f)) {
					if err != nil {
						return err
					}
					if err := rw.Write(r); err != nil {
						return err
					}
				}
				return rw.Close()
			})
		},
	}
	ff.register(cmd, audit.DefaultLimit)
	addRevealFlag(cmd, &reveal)
	cmd.Flags().StringVar(&format, "format", "table", "table, json, jsonl, yaml or csv")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	cmd.Flags().StringVar(&provenance, "provenance", "", "every record about this target, in order (other filters are ignored)")
	cmd.Flags().BoolVar(&neighbourhood, "neighbourhood", false, "with --provenance: also the actors and the records referring to the target")
	cmd.Flags().BoolVar(&follow, "follow", false, "print matching records as they are appended, until interrupted")
	cmd.Flags().DurationVar(&poll, "poll", time.Second, "with --follow: how often to read the store (with a cache: at least 5s, announcements wake it sooner)")
	return cmd
}

func (a *App) exportCommand() *cobra.Command {
	var ff filterFlags
	var format, output, schemaPath, reveal string
	var to exportToFlags
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the trail (or the records matching filters) as jsonl, json, yaml or csv",
		Long: `Write every record (or those matching the filters) in sequence order.

The JSON forms write each record in canonical form with its record_hash,
signatures and status; docs/canonical-form.md explains how anyone can
re-verify the hashes and the chain from such an export, and
scripts/verify_export.py does it with nothing but Python's standard library.

--format=dgraph-rdf writes RDF N-Quads for a Dgraph load (types AuditRecord,
AuditFinding, AuditViolation, AuditSignature; edges previous_record,
findings, violations, signatures) and the Dgraph schema beside the output
(FILE.schema, or --schema FILE). --format=dot writes a GraphViz picture;
with --target it shows the target's provenance: who did what to it, and the
records that refer to it.

` + revealHelp + ` A revealed export holds each value with its
salt ("disclosures"), which verifiers check against the commitment.

--to sends the records to another system instead: a SIEM over syslog
(RFC 5424 over TCP, TLS or UDP; --format json, cef or ocsf), a webhook
(JSON, OCSF, or a Slack-compatible message), e-mail, or a git repository (a
Markdown report committed per batch). Delivery is at least once: a cursor
per trail and destination (.audit/exporters/) remembers the last record
delivered, so a run resumes where the last one stopped, and a record is
sent again only when its delivery could not be confirmed. Without --follow
the records up to the current end are exported; with it, records are
exported as they are appended until Ctrl-C or SIGTERM. The trail is only
read. Secrets come from the environment: AMI_AUDIT_WEBHOOK_TOKEN,
AMI_AUDIT_WEBHOOK_SECRET, AMI_AUDIT_SLACK_WEBHOOK_URL, AMI_AUDIT_SMTP_PASSWORD.`,
		Example: `  ami-audit export --format jsonl --output trail.jsonl
  ami-audit export --format csv --since 2025-01-01 --output q1.csv
  ami-audit export --format=dgraph-rdf --output=trail.rdf
  ami-audit export --format=dot --target=svc/api | dot -Tsvg > svc-api.svg
  ami-audit export --to=syslog+tls://siem.internal:6514 --format=cef --since="1 hour ago"
  ami-audit export --to=webhook --url=https://hooks.example/audit --severity=error --follow
  AMI_AUDIT_SLACK_WEBHOOK_URL=https://hooks.slack.com/… ami-audit export --to=slack --severity=critical --follow
  ami-audit export --to=mailto:ops@example.com --smtp=smtp://mail.example.com:587 --severity=error
  ami-audit export --to=git:../compliance-evidence`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to.to != "" {
				if output != "" || schemaPath != "" {
					return usagef("--to sends the records to a destination; --output and --schema are for files")
				}
				if ff.limit != 0 || ff.newest {
					return usagef("--to exports every matching record in order; --limit and --newest do not apply")
				}
				if cmd.Flags().Changed("reveal") && reveal != "none" {
					return usagef("--reveal writes disclosures to a file; --to sends records as the trail holds them, committed values undisclosed")
				}
				to.format = format
				if !cmd.Flags().Changed("format") {
					to.format = "json"
				}
				f, err := ff.filter(time.Now())
				if err != nil {
					return err
				}
				return a.runExportTo(cmd.Context(), to, f)
			}
			if to.follow {
				return withHint(usagef("--follow needs --to"), "'ami-audit query --follow' prints records as they are appended")
			}
			if err := a.checkOutput(output); err != nil {
				return err
			}
			if graph.Valid(format) {
				return a.exportGraph(cmd.Context(), &ff, format, output, schemaPath)
			}
			if !export.Valid(format) {
				return usagef("--format %q: want one of %s, %s", format, strings.Join(export.Formats, ", "), strings.Join(graph.Formats, ", "))
			}
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			access, err := disclose.ParseAccess(reveal)
			if err != nil {
				return usageError{err}
			}
			s, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			n := 0
			err = a.writeOutput(output, func(w io.Writer) error {
				rw, err := export.New(w, format)
				if err != nil {
					return err
				}
				for r, err := range readable(cmd.Context(), s, access, s.Query(cmd.Context(), f)) {
					if err != nil {
						return err
					}
					if err := rw.Write(r); err != nil {
						return err
					}
					n++
				}
				return rw.Close()
			})
			if err == nil && output != "" && output != "-" {
				a.notice("exported %s to %s", plural.Count(n, "record"), output)
			}
			return err
		},
	}
	ff.register(cmd, 0)
	addRevealFlag(cmd, &reveal)
	cmd.Flags().StringVar(&format, "format", "jsonl", "jsonl, json, yaml, csv, dgraph-rdf or dot")
	cmd.Flags().StringVar(&schemaPath, "schema", "", "with --format=dgraph-rdf: write the Dgraph schema to FILE (default: beside --output)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE (replaced atomically) instead of stdout")
	fl := cmd.Flags()
	fl.StringVar(&to.to, "to", "", "send the records to a destination: syslog://HOST:PORT, syslog+tls://…, syslog+udp://…, webhook, slack, https://…, mailto:ADDR[,ADDR], git:DIR")
	fl.BoolVar(&to.follow, "follow", false, "with --to: keep exporting records as they are appended, until stopped")
	fl.StringVar(&to.url, "url", "", "with --to=webhook: the endpoint (or "+envWebhookURL+"; the token comes from "+envWebhookToken+", the signing secret from "+envWebhookSecret+")")
	fl.DurationVar(&to.poll, "poll", time.Second, "with --follow: how often the store is read for new records")
	fl.StringVar(&to.cursor, "cursor", "", "with --to: the cursor file (default .audit/exporters/LOG-DESTINATION.cursor)")
	fl.IntVar(&to.batch, "batch", 500, "with --to: records per delivery")
	fl.StringVar(&to.tlsCA, "tls-ca", "", "with --to: CA certificates (PEM) to trust instead of the system's")
	fl.StringVar(&to.tlsCert, "tls-cert", "", "with --to: client certificate (PEM)")
	fl.StringVar(&to.tlsKey, "tls-key", "", "with --to: client certificate's private key (PEM)")
	fl.StringVar(&to.smtp, "smtp", "", "with --to=mailto: the server: smtp://[USER@]HOST[:587] (STARTTLS), smtps://… (TLS), smtp+insecure://… (or "+envSMTPURL+"; the password comes from "+envSMTPPassword+")")
	fl.StringVar(&to.mailFrom, "mail-from", "", "with --to=mailto: the sender (default ami-audit@HOSTNAME)")
	fl.StringVar(&to.gitDir, "git-dir", "", "with --to=git:DIR: the reports' directory in the repository (default audit-reports)")
	return cmd
}

// tableWriter prints records as an aligned table for people.
type tableWriter struct {
	tw *tabwriter.Writer
	n  int
}

func newTableWriter(w io.Writer) *tableWriter {
	return &tableWriter{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

func (t *tableWriter) Write(r *audit.Record) error {
	if t.n == 0 {
		fmt.Fprintln(t.tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tTYPE\tSEVERITY\tSIGNED\tRECORD ID")
	}
	t.n++
	signers := make([]string, len(r.Signatures))
	for i, s := range r.Signatures {
		signers[i] = s.Signer
	}
	signed := "-"
	if len(signers) > 0 {
		signed = strings.Join(signers, ",")
	}
	if r.Pruned != nil {
		_, err := fmt.Fprintf(t.tw, "%d\t-\t-\t(pruned: policy %s)\t-\t-\t-\t%s\t%s\n", r.Sequence, oneLine(r.Pruned.Policy), signed, r.RecordID)
		return err
	}
	_, err := fmt.Fprintf(t.tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Sequence, r.Timestamp.UTC().Format("2006-01-02 15:04:05"),
		oneLine(r.Actor), oneLine(r.Action), oneLine(r.Target), r.TargetType, r.Severity, signed, r.RecordID)
	return err
}

func (t *tableWriter) Close() error {
	if t.n == 0 {
		fmt.Fprintln(t.tw, "no matching records")
	}
	return t.tw.Flush()
}

// oneLine keeps a table row on one line and free of terminal escapes.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// revealHelp explains --reveal.
const revealHelp = `Values of confidential records (their classification is committed:
confidential and restricted by default) are masked: their commitments are
shown, not the values. --reveal shows them (--reveal=CLASS,… only those of
these classifications); values that were redacted are gone for good.`

// addRevealFlag registers --reveal.
func addRevealFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "reveal", "none", "show committed (confidential) values: all, or a comma-separated list of classifications")
	cmd.Flags().Lookup("reveal").NoOptDefVal = "all"
}

// readable is seq as a reader with access sees it (package disclose).
func readable(ctx context.Context, s audit.Store, access disclose.Access, seq iter.Seq2[*audit.Record, error]) iter.Seq2[*audit.Record, error] {
	vr, _ := s.(ledger.ValueReader)
	return disclose.Records(ctx, vr, access, seq)
}

// registerSelection registers the filter flags that choose records
// without limiting or ordering them (sign uses them).
func (ff *filterFlags) registerSelection(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&ff.action, "action", "", "only records of this action")
	f.StringVar(&ff.actor, "actor", "", "only records by this actor")
	f.StringVar(&ff.user, "user", "", "same as --actor")
	f.StringVar(&ff.target, "target", "", "only records about this target")
	f.StringVar(&ff.module, "module", "", "only records about this module (target_type module)")
	f.StringVar(&ff.targetType, "target-type", "", "only this target type: file, module, service, log, git, quality")
	f.StringVar(&ff.severity, "severity", "", "only this severity and above: debug, info, warning, error, critical")
	f.StringVar(&ff.since, "since", "", "from this time on: a date, RFC 3339, or e.g. \"7 days ago\"")
	f.StringVar(&ff.until, "until", "", "before this time (same forms as --since)")
}

// narrowed reports whether any filter flag was given.
func (ff *filterFlags) narrowed() bool {
	return ff.action != "" || ff.actor != "" || ff.user != "" || ff.target != "" || ff.module != "" ||
		ff.targetType != "" || ff.severity != "" || ff.since != "" || ff.until != ""
}

// parseRange reads "A..B" (B excluded; empty: no end) as sequence bounds.
func parseRange(s string) (from, to uint64, err error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return 0, 0, fmt.Errorf("--range %q: want A..B, e.g. 0..1000 or 500..", s)
	}
	if a != "" {
		if from, err = strconv.ParseUint(a, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("--range %q: %q is not a sequence number", s, a)
		}
	}
	if b != "" {
		if to, err = strconv.ParseUint(b, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("--range %q: %q is not a sequence number", s, b)
		}
		if to <= from {
			return 0, 0, fmt.Errorf("--range %q: empty (B must be larger than A)", s)
		}
	}
	return from, to, nil
}
