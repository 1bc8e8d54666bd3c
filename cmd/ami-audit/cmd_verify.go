package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/trail"
)

func (a *App) verifyCommand() *cobra.Command {
	var (
		o           trail.VerifyOptions
		quorumText  string
		checkpoints []string
		proofPath   string
		packetPath  string
		format      string
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the chain, signatures, checkpoints or an inclusion proof",
		Long: `Check that the trail is what was appended. verify only reads: read access to
the store and the log's public key are all it needs.

--chain (the default) checks the whole store as it was at one moment
(appends by other processes meanwhile do not disturb it): no row outside the
log's sequence, every record's hash, link, sequence number and Merkle tree
hashes, the Merkle root, and that the latest tree head is signed by the log
key (.audit/log.pub, or --key) and is the root of those records. A trail
created with a log key must have its records covered by a signed head: a
missing, unsigned or foreign head is a failure. It also checks that the log
still extends the last signed head this machine saw.
--checkpoint FILE also checks a saved checkpoint: its signature and that the
current log extends it (nothing removed or rewritten, by a consistency
proof). Keep checkpoints outside the operator's reach: a log cut back to an
earlier signed head, with its later heads deleted, is caught only by a
checkpoint (or a witness) that saw the later state.
--signatures checks every record signature and checkpoint co-signature by
the trusted keys (--trusted, default .audit/trusted/); --quorum k/n requires
k of the n trusted signers on every record, by their own signature on it or
a co-signed checkpoint covering it (see 'ami-audit sign').
--record ID checks one record: its hash, its link and its inclusion in the
tree of the latest signed head.
--proof FILE checks an inclusion proof written by 'ami-audit prove' without
any store: only the proof and the log's public key are needed.
--packet FILE checks an evidence packet ('ami-audit report --export packet')
with nothing else: its signed manifest, every file in it, the checkpoint,
every record's hash and inclusion proof, and the signatures on the records.
Give the log's public key you obtained from the operator with --key to be
sure whose log it is; without it the packet's own key is used and its
fingerprint printed, to compare. A failure names the file that failed.

The latest signed tree head is printed at the end: keep a copy.
The first failing record is named by sequence and id, with the reason.
Exit codes: 0 all checks passed, 1 could not check (I/O, missing key),
2 usage error, 3 verification failed.`,
		Example: `  ami-audit verify
  ami-audit verify --chain --signatures --quorum 2/3
  ami-audit verify --checkpoint cp-0001.txt
  ami-audit verify --store sqlite:copy.db --key log.pub
  ami-audit verify --proof proof.json --key log.pub
  ami-audit verify --packet evidence-2025Q4.zip --key log.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usagef("--format %q: want text or json", format)
			}
			if quorumText != "" {
				q, err := ledger.ParseQuorum(quorumText)
				if err != nil {
					return usageError{err}
				}
				o.Quorum, o.Signatures = q, true
			}
			var rep *trail.Report
			var err error
			if o.RecordID, err = recordIDArg(o.RecordID); err != nil {
				return err
			}
			if packetPath != "" {
				return a.verifyPacket(packetPath, format)
			}
			if proofPath != "" {
				rep, err = a.verifyProofFile(proofPath)
			} else {
				rep, err = a.runVerify(cmd, o, checkpoints)
			}
			if rep != nil {
				a.printVerify(format, rep)
			}
			if err != nil && errors.Is(err, ledger.ErrTampered) {
				return verifyError{err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Chain, "chain", false, "check the whole store: chain, Merkle tree and signed tree heads (the default)")
	f.BoolVar(&o.Signatures, "signatures", false, "check record signatures and co-signatures by the trusted keys")
	f.StringArrayVar(&o.Trusted, "trusted", nil, "trusted public key file or directory of .pub files (repeatable; default .audit/trusted/)")
	f.StringVar(&quorumText, "quorum", "", "k/n: each record needs k of the n trusted signers")
	f.StringVar(&o.RecordID, "record", "", "check only this record")
	f.StringArrayVar(&checkpoints, "checkpoint", nil, "a saved checkpoint the log must extend (repeatable)")
	f.StringVar(&a.pubKey, "key", "", "the log's public key (default .audit/log.pub)")
	f.StringVar(&proofPath, "proof", "", "check an inclusion proof file, offline")
	f.StringVar(&packetPath, "packet", "", "check an evidence packet (zip), offline, with nothing else")
	f.StringVar(&format, "format", "text", "text or json")
	return cmd
}

func (a *App) runVerify(cmd *cobra.Command, o trail.VerifyOptions, checkpoints []string) (*trail.Report, error) {
	ctx := cmd.Context()
	cps, err := trail.ReadCheckpoints(checkpoints)
	if err != nil {
		return nil, err
	}
	o.Checkpoints = cps
	t, err := a.openTrail(ctx, true)
	if err != nil {
		return nil, err
	}
	meter := progress.New(a.stderr, a.progress(), "verify", "records", 0)
	o.Progress = func(n uint64) { meter.Add(int64(n) - meter.Count()) }
	rep, err := t.Verify(ctx, o)
	meter.Done()
	if errors.Is(err, trail.ErrOptions) {
		return nil, withHint(usageError{err}, hintFor(err))
	}
	if err != nil && !errors.Is(err, ledger.ErrTampered) && len(rep.Checks) == 0 {
		return nil, withHint(err, hintFor(err))
	}
	return rep, err
}

// hintFor says what to do about an error verification could not get past.
func hintFor(err error) string {
	switch {
	case errors.Is(err, trail.ErrNeedPublicKey):
		return "give the log's public key with --key FILE"
	case strings.Contains(err.Error(), "no trusted keys"):
		return "ami-audit keygen --name NAME --trust, or --trusted DIR"
	}
	return "see 'ami-audit verify --help'"
}

func (a *App) printVerify(format string, rep *trail.Report) {
	if format == "json" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintf(a.stdout, "%s\n", b)
		return
	}
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(a.stdout, "%s  %-12s %s\n", mark, c.Name, c.Detail)
	}
	if in := rep.Integrity; in != nil && in.Checkpoint != "" {
		fmt.Fprintf(a.stdout, "\nThe latest signed tree head (keep a copy where the log's operator cannot change it;\n'ami-audit verify --checkpoint FILE' proves later that the log still extends it):\n\n%s", in.Checkpoint)
	}
}

func (a *App) checkpointCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Write the log's latest signed checkpoint (C2SP tlog-checkpoint)",
		Long: `Verify the whole trail, then write its latest tree head — the one the log
key signed when the last records were appended — as a C2SP signed note:
origin, size and Merkle root. Nothing new is signed: a log that does not
verify, or whose latest head is not signed by its key, gets no checkpoint
(exit 3). Only read access and the log's public key are needed.

Keep checkpoints somewhere the log's operator cannot rewrite (another
machine, a ticket, a git commit elsewhere): 'verify --checkpoint' later
proves the log still extends them, which a hash chain alone cannot.`,
		Example: `  ami-audit checkpoint --output cp-0001.txt
  ami-audit verify --checkpoint cp-0001.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(output); err != nil {
				return err
			}
			t, err := a.openTrail(cmd.Context(), true)
			if err != nil {
				return err
			}
			msg, cp, err := t.Checkpoint(cmd.Context())
			if err != nil {
				return a.trailError(err)
			}
			if err := a.writeOutput(output, func(w io.Writer) error { _, err := w.Write(msg); return err }); err != nil {
				return err
			}
			if output != "" && output != "-" {
				a.notice("checkpoint of %s written to %s", plural.Count(cp.Size, "record"), output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	cmd.Flags().StringVar(&a.pubKey, "key", "", "the log's public key (default .audit/log.pub)")
	return cmd
}

func (a *App) proveCommand() *cobra.Command {
	var recordID, cpPath, output string
	cmd := &cobra.Command{
		Use:   "prove --record ID [--checkpoint FILE]",
		Short: "Write an inclusion proof that a record is in the log",
		Long: `Write a JSON file proving that the record is one of the records a
checkpoint commits to: the signed checkpoint, the record, its leaf index and
the O(log n) Merkle hashes from its leaf to the root. Anyone holding the
log's public key checks it with 'ami-audit verify --proof FILE --key log.pub'
(or scripts/verify_export.py --proof, which checks the hashes with Python's
standard library). Without --checkpoint the trail is verified in full and
its latest signed tree head is used. The proof is checked against the
checkpoint's signed root before it is written.`,
		Example: `  ami-audit prove --record 0193… --checkpoint cp-0001.txt --output proof.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if recordID == "" {
				return usagef("--record is required")
			}
			var err error
			if recordID, err = recordIDArg(recordID); err != nil {
				return err
			}
			if err := a.checkOutput(output); err != nil {
				return err
			}
			var cpNote []byte
			if cpPath != "" {
				var err error
				if cpNote, err = os.ReadFile(cpPath); err != nil {
					return err
				}
			}
			t, err := a.openTrail(ctx, true)
			if err != nil {
				return err
			}
			p, err := t.Prove(ctx, recordID, cpNote)
			if err != nil {
				if cpPath != "" && errors.Is(err, ledger.ErrTampered) {
					err = fmt.Errorf("%s: %w", cpPath, err)
				}
				return a.trailError(err)
			}
			b, _ := json.MarshalIndent(p, "", "  ")
			return a.writeOutput(output, func(w io.Writer) error { _, err := fmt.Fprintf(w, "%s\n", b); return err })
		},
	}
	cmd.Flags().StringVar(&recordID, "record", "", "id of the record to prove (required)")
	cmd.Flags().StringVar(&cpPath, "checkpoint", "", "prove against this saved checkpoint (default: the latest signed head)")
	cmd.Flags().StringVar(&a.pubKey, "key", "", "the log's public key, to check --checkpoint (default .audit/log.pub)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

// verifyProofFile checks an inclusion proof offline.
func (a *App) verifyProofFile(path string) (*trail.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keyPath := a.pubKey
	if keyPath == "" {
		keyPath = a.auditPath(trail.LogPubFile)
	}
	v, err := keys.LoadVerifier(keyPath)
	if err != nil {
		return nil, withHint(fmt.Errorf("log public key: %w", err), "give the log's public key with --key FILE")
	}
	rep := &trail.Report{}
	c, err := trail.VerifyProof(b, v)
	if errors.Is(err, trail.ErrNotAProof) {
		return nil, usagef("%s is %v", path, err)
	}
	c.Detail = path + ": " + c.Detail
	rep.Checks = append(rep.Checks, c)
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

func (a *App) auditPath(name string) string { return filepath.Join(a.auditDir, name) }

func (a *App) signCommand() *cobra.Command {
	var (
		keyPath, cpPath, rangeText string
		sel                        trail.Selection
		ff                         filterFlags
	)
	cmd := &cobra.Command{
		Use:   "sign --key FILE (--record ID… | --unsigned | --all | --range A..B | --checkpoint FILE)",
		Short: "Add your Ed25519 signature to records, or co-sign a checkpoint",
		Long: `Sign records with a private key made by 'ami-audit keygen'. A signature
covers the record hash, so it vouches for the whole record; it is stored
beside the record (signatures are not part of the hash). Many records are
signed in one transaction — all of them or none — after the trail is
verified (a record whose stored content does not match its hash is never
signed):

  --record ID        these records (repeatable)
  --unsigned         every record you have not signed yet
  --all              every record
  --range A..B       the records with sequence A to B-1 (B empty: to the end)
  --action, --actor, --since, … narrow any of the above

--checkpoint FILE co-signs a checkpoint of the log instead: one signature
that vouches for every record the checkpoint covers, which is how a few
signers keep up with a log of millions of records. 'verify --signatures
--quorum k/n' counts both kinds.`,
		Example: `  ami-audit sign --key alice.key --unsigned
  ami-audit checkpoint --output cp.txt && ami-audit sign --key bob.key --checkpoint cp.txt
  ami-audit sign --key carol.key --record 0193…
  ami-audit verify --chain --signatures --quorum 2/3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if keyPath == "" {
				return usagef("give --key FILE (your private key, from 'ami-audit keygen')")
			}
			ff.limit = 0
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			sel.Filter = f
			if rangeText != "" {
				if sel.From, sel.To, err = parseRange(rangeText); err != nil {
					return usageError{err}
				}
				sel.All = true
			}
			if ff.narrowed() || sel.Unsigned {
				sel.All = true
			}
			if cpPath == "" && len(sel.IDs) == 0 && !sel.All {
				return usagef("say what to sign: --record ID, --unsigned, --all, --range A..B or --checkpoint FILE")
			}
			if cpPath != "" && (len(sel.IDs) > 0 || sel.All) {
				return usagef("--checkpoint co-signs a checkpoint; sign records in a separate run")
			}
			for i := range sel.IDs {
				if sel.IDs[i], err = recordIDArg(sel.IDs[i]); err != nil {
					return err
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
			if cpPath != "" {
				b, err := os.ReadFile(cpPath)
				if err != nil {
					return err
				}
				c, err := t.Cosign(ctx, signer, b)
				if err != nil {
					return a.trailError(err)
				}
				fmt.Fprintf(a.stdout, "co-signed the checkpoint of %s as %s\n", plural.Count(c.Size, "record"), c.Signer)
				return nil
			}
			res, err := t.Sign(ctx, signer, sel)
			if err != nil {
				return a.trailError(err)
			}
			msg := fmt.Sprintf("signed %s as %s", plural.Count(res.Signed, "record"), signer.Name())
			if res.Skipped > 0 {
				msg += fmt.Sprintf(" (%s already signed by %s)", plural.Count(res.Skipped, "record"), signer.Name())
			}
			if res.Pruned > 0 {
				msg += fmt.Sprintf(" (%s pruned by retention, whose content is gone, not signed)", plural.Count(res.Pruned, "record"))
			}
			fmt.Fprintln(a.stdout, msg)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&keyPath, "key", "", "your private key file (mode 0600)")
	fl.StringArrayVar(&sel.IDs, "record", nil, "id of a record to sign (repeatable)")
	fl.BoolVar(&sel.Unsigned, "unsigned", false, "every record not yet signed by this key")
	fl.BoolVar(&sel.All, "all", false, "every record")
	fl.StringVar(&rangeText, "range", "", "records with sequence A..B (B excluded; empty: to the end)")
	fl.StringVar(&cpPath, "checkpoint", "", "co-sign this checkpoint instead of records")
	ff.registerSelection(cmd)
	return cmd
}
