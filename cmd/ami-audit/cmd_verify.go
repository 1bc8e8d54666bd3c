package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// verifiableStore is what verification needs beyond audit.Store.
type verifiableStore interface {
	audit.Store
	ledger.RawScanner
	HashReader(ctx context.Context) tlog.HashReader
	Origin() string
	Difficulty() int
}

func (a *App) verifiable(ctx context.Context) (verifiableStore, error) {
	s, err := a.openExisting(ctx)
	if err != nil {
		return nil, err
	}
	vs, ok := s.(verifiableStore)
	if !ok {
		return nil, fmt.Errorf("this store cannot be verified (it does not expose its stored rows)")
	}
	return vs, nil
}

// check is one line of a verification report.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type verifyReport struct {
	OK      bool               `json:"ok"`
	Checks  []check            `json:"checks"`
	Failure *ledger.ChainError `json:"failure,omitempty"`
	Error   string             `json:"error,omitempty"`
}

func (a *App) verifyCommand() *cobra.Command {
	var (
		chain, sigs bool
		trusted     []string
		quorumText  string
		recordID    string
		checkpoints []string
		keyPath     string
		proofPath   string
		format      string
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the chain, signatures, checkpoints or an inclusion proof",
		Long: `Check that the trail is what was appended.

--chain (the default) reads every record and checks its hash, its link to the
record before it, its sequence number and its Merkle tree hashes, computes
the Merkle root, and compares the tree heads the log signed as it grew.
--checkpoint FILE also checks a saved checkpoint: its signature (with the log
public key, --key or .audit/log.pub) and that the current log extends it
(nothing removed or rewritten, by a consistency proof).
--signatures checks every record signature against the --trusted public
keys; --quorum k/n requires k valid signatures by the n trusted keys on every
record checked. --record ID checks one record only.
--proof FILE checks an inclusion proof written by 'ami-audit prove' without
any store: only the proof and the log's public key are needed.

The first failing record is named by sequence and id, with the reason.
Exit codes: 0 all checks passed, 1 could not check (I/O, missing store),
2 usage error, 3 verification failed.`,
		Example: `  ami-audit verify
  ami-audit verify --chain --signatures --trusted keys/ --quorum 2/3
  ami-audit verify --checkpoint cp-0001.txt
  ami-audit verify --proof proof.json --key log.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if format != "text" && format != "json" {
				return usagef("--format %q: want text or json", format)
			}
			var quorum ledger.Quorum
			if quorumText != "" {
				q, err := ledger.ParseQuorum(quorumText)
				if err != nil {
					return usageError{err}
				}
				quorum, sigs = q, true
			}
			if sigs && len(trusted) == 0 {
				return withHint(usagef("--signatures needs the trusted public keys"), "give --trusted DIR (a directory of .pub files) or --trusted FILE.pub")
			}
			var rep verifyReport
			var err error
			if proofPath != "" {
				err = a.verifyProofFile(proofPath, keyPath, &rep)
			} else {
				if !chain && !sigs && recordID == "" {
					chain = true
				}
				if len(checkpoints) > 0 && recordID == "" {
					chain = true
				}
				err = a.runVerify(ctx, &rep, verifyPlan{chain: chain, sigs: sigs, trusted: trusted, quorum: quorum,
					recordID: recordID, checkpoints: checkpoints, keyPath: keyPath})
			}
			rep.OK = err == nil
			var ce *ledger.ChainError
			if errors.As(err, &ce) {
				rep.Failure = ce
			}
			if err != nil {
				rep.Error = err.Error()
			}
			a.printVerify(format, &rep)
			if err != nil && (errors.Is(err, ledger.ErrTampered) || errors.As(err, new(verifyError))) {
				return verifyError{err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&chain, "chain", false, "check the hash chain and Merkle tree (the default)")
	f.BoolVar(&sigs, "signatures", false, "check record signatures against --trusted keys")
	f.StringArrayVar(&trusted, "trusted", nil, "trusted public key file or directory of .pub files (repeatable)")
	f.StringVar(&quorumText, "quorum", "", "k/n: each record needs k valid signatures by the n trusted keys")
	f.StringVar(&recordID, "record", "", "check only this record")
	f.StringArrayVar(&checkpoints, "checkpoint", nil, "a saved checkpoint the log must extend (repeatable)")
	f.StringVar(&keyPath, "key", "", "the log's public key (default .audit/log.pub)")
	f.StringVar(&proofPath, "proof", "", "check an inclusion proof file, offline")
	f.StringVar(&format, "format", "text", "text or json")
	return cmd
}

type verifyPlan struct {
	chain, sigs bool
	trusted     []string
	quorum      ledger.Quorum
	recordID    string
	checkpoints []string
	keyPath     string
}

func (a *App) printVerify(format string, rep *verifyReport) {
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
}

func (a *App) loadLogVerifier(keyPath string) (note.Verifier, error) {
	if keyPath != "" {
		return keys.LoadVerifier(keyPath)
	}
	return a.logVerifier()
}

func (a *App) runVerify(ctx context.Context, rep *verifyReport, p verifyPlan) error {
	s, err := a.verifiable(ctx)
	if err != nil {
		return err
	}
	var trusted []note.Verifier
	if p.sigs {
		if trusted, err = keys.LoadTrusted(p.trusted...); err != nil {
			return usageError{err}
		}
		if p.quorum.N != 0 && p.quorum.N != len(trusted) {
			return usagef("--quorum %s names %d trusted keys but --trusted holds %d", p.quorum, p.quorum.N, len(trusted))
		}
	}
	if p.recordID != "" {
		if err := a.verifyOne(ctx, s, p.recordID, rep); err != nil {
			return err
		}
	}
	if p.chain {
		if err := a.verifyChain(ctx, s, p, rep); err != nil {
			return err
		}
	}
	if p.sigs {
		return a.verifySignatures(ctx, s, p, trusted, rep)
	}
	return nil
}

func (a *App) verifyChain(ctx context.Context, s verifiableStore, p verifyPlan, rep *verifyReport) error {
	type saved struct {
		path string
		cp   ledger.Checkpoint
	}
	var cps []saved
	var logKey note.Verifier
	var err error
	if len(p.checkpoints) > 0 {
		if logKey, err = a.loadLogVerifier(p.keyPath); err != nil {
			return err
		}
		for _, path := range p.checkpoints {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			cp, _, err := ledger.OpenCheckpoint(b, note.VerifierList(logKey))
			if err != nil {
				rep.Checks = append(rep.Checks, check{Name: "checkpoint", Detail: path + ": " + err.Error()})
				return verifyError{fmt.Errorf("%s: %w", path, err)}
			}
			if cp.Origin != s.Origin() {
				err := fmt.Errorf("%s is a checkpoint of log %q, not of this log (%q)", path, cp.Origin, s.Origin())
				rep.Checks = append(rep.Checks, check{Name: "checkpoint", Detail: err.Error()})
				return verifyError{err}
			}
			cps = append(cps, saved{path, cp})
		}
	} else if v, err := a.loadLogVerifier(p.keyPath); err == nil {
		logKey = v
	}
	var sizes []uint64
	for _, c := range cps {
		sizes = append(sizes, c.cp.Size)
	}
	meter := progress.New(a.stderr, a.progress(), "verify", "records", 0)
	res, err := ledger.VerifyChain(ctx, s, ledger.VerifyOptions{
		Difficulty: s.Difficulty(),
		RootsAt:    sizes,
		Progress:   func(n uint64) { meter.Add(int64(n) - meter.Count()) },
	})
	meter.Done()
	if err != nil {
		rep.Checks = append(rep.Checks, check{Name: "chain", Detail: err.Error()})
		return err
	}
	rep.Checks = append(rep.Checks, check{Name: "chain", OK: true, Detail: fmt.Sprintf("%d records, hashes and links intact, Merkle root %s",
		res.Size, base64.StdEncoding.EncodeToString(res.Root[:]))})
	hr := s.HashReader(ctx)
	if hs, ok := s.(ledger.HeadStore); ok {
		var known note.Verifiers
		if logKey != nil {
			known = note.VerifierList(logKey)
		}
		n, err := ledger.CheckHeads(ctx, hs, res.Size, hr, s.Origin(), known)
		if err != nil {
			rep.Checks = append(rep.Checks, check{Name: "tree heads", Detail: err.Error()})
			return err
		}
		how := "signed"
		if logKey == nil {
			how = "unsigned (no log public key here)"
		}
		rep.Checks = append(rep.Checks, check{Name: "tree heads", OK: true, Detail: fmt.Sprintf("%d stored, %s; the latest matches the records", n, how)})
	}
	for _, c := range cps {
		if err := ledger.CheckCheckpoint(c.cp, res, hr); err != nil {
			rep.Checks = append(rep.Checks, check{Name: "checkpoint", Detail: c.path + ": " + err.Error()})
			return err
		}
		rep.Checks = append(rep.Checks, check{Name: "checkpoint", OK: true, Detail: fmt.Sprintf("%s: size %d, signature valid, the log (size %d) extends it", c.path, c.cp.Size, res.Size)})
	}
	return nil
}

// verifyOne checks one record: its hash, its link to the record before it,
// and its inclusion in the current tree.
func (a *App) verifyOne(ctx context.Context, s verifiableStore, id string, rep *verifyReport) error {
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	fail := func(reason string) error {
		e := &ledger.ChainError{Seq: r.Sequence, RecordID: r.RecordID, Reason: reason}
		rep.Checks = append(rep.Checks, check{Name: "record", Detail: e.Error()})
		return e
	}
	var body []byte
	var tree []byte
	err = s.ScanRaw(ctx, r.Sequence, r.Sequence+1, func(raw *ledger.RawRecord) error {
		body = append([]byte(nil), raw.Body...)
		tree = append([]byte(nil), raw.Tree...)
		return nil
	})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != r.RecordHash {
		return fail("record_hash mismatch: the stored content does not hash to the stored record_hash (the record was changed)")
	}
	if h, err := r.Hash(); err != nil || h != r.RecordHash {
		return fail("the stored content is not the canonical form of the record")
	}
	if r.Sequence > 0 {
		var prev string
		for p, err := range s.Range(ctx, r.Sequence-1, r.Sequence) {
			if err != nil {
				return err
			}
			prev = p.RecordHash
		}
		if prev != r.PreviousHash {
			return fail("previous_hash mismatch: it does not link to the record before it")
		}
	} else if r.PreviousHash != audit.GenesisHash {
		return fail(`the first record must have previous_hash "0"`)
	}
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	hr := s.HashReader(ctx)
	root, err := ledger.TreeRoot(head.Size, hr)
	if err != nil {
		return err
	}
	proof, err := tlog.ProveRecord(int64(head.Size), int64(r.Sequence), hr)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(proof, int64(head.Size), root, int64(r.Sequence), ledger.LeafHash(sum)); err != nil {
		return fail("not included in the log's Merkle tree: " + err.Error())
	}
	if len(tree) < 32 || [32]byte(tree[:32]) != ledger.LeafHash(sum) {
		return fail("stored Merkle leaf hash is wrong")
	}
	rep.Checks = append(rep.Checks, check{Name: "record", OK: true, Detail: fmt.Sprintf("%d (%s): hash, link and inclusion in the tree of %d records", r.Sequence, r.RecordID, head.Size)})
	return nil
}

func (a *App) verifySignatures(ctx context.Context, s verifiableStore, p verifyPlan, trusted []note.Verifier, rep *verifyReport) error {
	var recs func(yield func(*audit.Record, error) bool)
	if p.recordID != "" {
		recs = func(yield func(*audit.Record, error) bool) { yield(s.Get(ctx, p.recordID)) }
	} else {
		recs = s.Range(ctx, 0, ^uint64(0))
	}
	var checked, signed, unknown int
	for r, err := range recs {
		if err != nil {
			return err
		}
		checked++
		c := ledger.CheckSignatures(r, trusted)
		unknown += len(c.Unknown)
		if len(r.Signatures) > 0 {
			signed++
		}
		fail := func(reason string) error {
			e := &ledger.ChainError{Seq: r.Sequence, RecordID: r.RecordID, Reason: reason}
			rep.Checks = append(rep.Checks, check{Name: "signatures", Detail: e.Error()})
			return e
		}
		if len(c.Invalid) > 0 {
			return fail(fmt.Sprintf("signature by %s does not verify (the record or the signature was changed)", c.Invalid[0]))
		}
		if p.quorum.K > 0 && len(c.Valid) < p.quorum.K {
			return fail(fmt.Sprintf("quorum %s not met: %d valid signature(s) by trusted keys %v", p.quorum, len(c.Valid), c.Valid))
		}
	}
	detail := fmt.Sprintf("%d records checked, %d signed, every signature by a trusted key valid", checked, signed)
	if p.quorum.K > 0 {
		detail += fmt.Sprintf(", quorum %s met by every record", p.quorum)
	}
	if unknown > 0 {
		detail += fmt.Sprintf(" (%d signatures by keys not in --trusted were not counted)", unknown)
	}
	rep.Checks = append(rep.Checks, check{Name: "signatures", OK: true, Detail: detail})
	return nil
}

// inclusionProof is the file 'prove' writes: everything a stranger needs,
// with the log's public key, to check that a record is in the log.
type inclusionProof struct {
	Format     string          `json:"format"`
	Checkpoint string          `json:"checkpoint"`
	LeafIndex  uint64          `json:"leaf_index"`
	TreeSize   uint64          `json:"tree_size"`
	Record     json.RawMessage `json:"record"`
	Proof      []string        `json:"inclusion_proof"`
}

const proofFormat = "ami-audit-inclusion-proof/v1"

func (a *App) checkpointCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Write a signed checkpoint of the current log (C2SP tlog-checkpoint)",
		Long: `Verify the chain, then write a checkpoint of the current log signed with
the log's key (.audit/log.key): its origin, size and Merkle root, as a C2SP
signed note. Keep checkpoints somewhere the log's operator cannot rewrite
(another machine, a ticket, a git commit elsewhere): 'verify --checkpoint'
later proves the log still extends them, which a hash chain alone cannot.`,
		Example: `  ami-audit checkpoint --output cp-0001.txt
  ami-audit verify --checkpoint cp-0001.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			msg, cp, err := a.signedCheckpoint(ctx)
			if err != nil {
				return err
			}
			if err := a.writeRecords(output, func(w io.Writer) error { _, err := w.Write(msg); return err }); err != nil {
				return err
			}
			if output != "" && output != "-" {
				a.notice("checkpoint of %d records written to %s", cp.Size, output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

// signedCheckpoint verifies the chain and signs its current head.
func (a *App) signedCheckpoint(ctx context.Context) ([]byte, ledger.Checkpoint, error) {
	s, err := a.verifiable(ctx)
	if err != nil {
		return nil, ledger.Checkpoint{}, err
	}
	signer, err := a.logSigner()
	if err != nil {
		return nil, ledger.Checkpoint{}, err
	}
	if signer == nil {
		return nil, ledger.Checkpoint{}, withHint(fmt.Errorf("this machine does not hold the log's private key (%s)", a.auditPath(logKeyFile)), "run checkpoint where the trail was initialized")
	}
	res, err := ledger.VerifyChain(ctx, s, ledger.VerifyOptions{Difficulty: s.Difficulty()})
	if err != nil {
		return nil, ledger.Checkpoint{}, verifyError{fmt.Errorf("refusing to sign a checkpoint of a log that does not verify: %w", err)}
	}
	cp := ledger.Checkpoint{Origin: s.Origin(), Size: res.Size, Root: res.Root}
	msg, err := cp.Sign(signer)
	return msg, cp, err
}

func (a *App) proveCommand() *cobra.Command {
	var recordID, cpPath, output, keyPath string
	cmd := &cobra.Command{
		Use:   "prove --record ID [--checkpoint FILE]",
		Short: "Write an inclusion proof that a record is in the log",
		Long: `Write a JSON file proving that the record is one of the records a
checkpoint commits to: the signed checkpoint, the record, its leaf index and
the O(log n) Merkle hashes from its leaf to the root. Anyone holding the
log's public key checks it with 'ami-audit verify --proof FILE --key log.pub'
(or scripts/verify_export.py --proof, which checks the hashes with Python's
standard library). Without --checkpoint a new checkpoint of the current log
is signed.`,
		Example: `  ami-audit prove --record 0193… --checkpoint cp-0001.txt --output proof.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if recordID == "" {
				return usagef("--record is required")
			}
			s, err := a.verifiable(ctx)
			if err != nil {
				return err
			}
			var msg []byte
			var cp ledger.Checkpoint
			if cpPath != "" {
				v, err := a.loadLogVerifier(keyPath)
				if err != nil {
					return err
				}
				if msg, err = os.ReadFile(cpPath); err != nil {
					return err
				}
				if cp, _, err = ledger.OpenCheckpoint(msg, note.VerifierList(v)); err != nil {
					return verifyError{fmt.Errorf("%s: %w", cpPath, err)}
				}
			} else if msg, cp, err = a.signedCheckpoint(ctx); err != nil {
				return err
			}
			r, err := s.Get(ctx, recordID)
			if err != nil {
				return err
			}
			if r.Sequence >= cp.Size {
				return fmt.Errorf("record %s (sequence %d) was appended after the checkpoint (size %d); make a new checkpoint", recordID, r.Sequence, cp.Size)
			}
			hr := s.HashReader(ctx)
			proof, err := tlog.ProveRecord(int64(cp.Size), int64(r.Sequence), hr)
			if err != nil {
				return err
			}
			leafSum, _ := hex.DecodeString(r.RecordHash)
			if err := tlog.CheckRecord(proof, int64(cp.Size), cp.Root, int64(r.Sequence), ledger.LeafHash([32]byte(leafSum))); err != nil {
				return verifyError{fmt.Errorf("the stored tree does not match the checkpoint: %w (run 'ami-audit verify --checkpoint %s')", err, cpPath)}
			}
			body, err := r.AppendJSON(nil)
			if err != nil {
				return err
			}
			out := inclusionProof{Format: proofFormat, Checkpoint: string(msg), LeafIndex: r.Sequence, TreeSize: cp.Size, Record: body}
			for _, h := range proof {
				out.Proof = append(out.Proof, base64.StdEncoding.EncodeToString(h[:]))
			}
			b, _ := json.MarshalIndent(out, "", "  ")
			return a.writeRecords(output, func(w io.Writer) error { _, err := fmt.Fprintf(w, "%s\n", b); return err })
		},
	}
	cmd.Flags().StringVar(&recordID, "record", "", "id of the record to prove (required)")
	cmd.Flags().StringVar(&cpPath, "checkpoint", "", "prove against this saved checkpoint (default: sign a new one)")
	cmd.Flags().StringVar(&keyPath, "key", "", "the log's public key, to check --checkpoint (default .audit/log.pub)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

// verifyProofFile checks an inclusion proof offline.
func (a *App) verifyProofFile(path, keyPath string, rep *verifyReport) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		rep.Checks = append(rep.Checks, check{Name: "proof", Detail: path + ": " + err.Error()})
		return verifyError{fmt.Errorf("%s: %w", path, err)}
	}
	var p inclusionProof
	if err := json.Unmarshal(b, &p); err != nil || p.Format != proofFormat {
		return usagef("%s is not an inclusion proof written by 'ami-audit prove'", path)
	}
	v, err := a.loadLogVerifier(keyPath)
	if err != nil {
		return err
	}
	cp, _, err := ledger.OpenCheckpoint([]byte(p.Checkpoint), note.VerifierList(v))
	if err != nil {
		return fail(err)
	}
	if cp.Size != p.TreeSize {
		return fail(fmt.Errorf("tree_size %d differs from the checkpoint's size %d", p.TreeSize, cp.Size))
	}
	sum, claimed, err := recordHashOf(p.Record)
	if err != nil {
		return fail(err)
	}
	if hex.EncodeToString(sum[:]) != claimed {
		return fail(errors.New("the record does not hash to its record_hash (it was changed)"))
	}
	var hashes tlog.RecordProof
	for _, s := range p.Proof {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != 32 {
			return fail(fmt.Errorf("proof hash %q is not 32 bytes of base64", s))
		}
		hashes = append(hashes, tlog.Hash(h))
	}
	if err := tlog.CheckRecord(hashes, int64(cp.Size), cp.Root, int64(p.LeafIndex), ledger.LeafHash(sum)); err != nil {
		return fail(fmt.Errorf("the record is not in the checkpointed tree: %v", err))
	}
	rep.Checks = append(rep.Checks, check{Name: "proof", OK: true, Detail: fmt.Sprintf("record %d is in %s of size %d (checkpoint signature valid, %d proof hashes)", p.LeafIndex, cp.Origin, cp.Size, len(hashes))})
	return nil
}

// recordHashOf recomputes a record's hash from its exported JSON the way any
// RFC 8785 implementation would: drop record_hash, signatures and status,
// canonicalize, SHA-256.
func recordHashOf(raw []byte) (sum [32]byte, claimed string, err error) {
	v, err := canonical.Decode(raw)
	if err != nil {
		return sum, "", fmt.Errorf("record: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return sum, "", errors.New("record is not a JSON object")
	}
	claimed, _ = obj["record_hash"].(string)
	delete(obj, "record_hash")
	delete(obj, "signatures")
	delete(obj, "status")
	b, err := canonical.Marshal(obj)
	if err != nil {
		return sum, "", err
	}
	return sha256.Sum256(b), claimed, nil
}

func (a *App) signCommand() *cobra.Command {
	var keyPath string
	var ids []string
	cmd := &cobra.Command{
		Use:   "sign --key FILE --record ID",
		Short: "Add your Ed25519 signature to records",
		Long: `Sign records with a private key made by 'ami-audit keygen'. The signature
covers the record hash, so it vouches for the whole record; it is stored
beside the record (signatures are not part of the hash). A record whose
stored content does not match its hash is refused. Any number of signers may
sign a record; 'verify --signatures --trusted DIR --quorum k/n' counts them.`,
		Example: `  ami-audit sign --key alice.key --record 0193…`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if keyPath == "" || len(ids) == 0 {
				return usagef("give --key FILE and at least one --record ID")
			}
			signer, err := keys.LoadSigner(keyPath)
			if err != nil {
				return err
			}
			s, err := a.openExisting(ctx)
			if err != nil {
				return err
			}
			for _, id := range ids {
				r, err := s.Get(ctx, id)
				if err != nil {
					return err
				}
				if h, err := r.Hash(); err != nil || h != r.RecordHash {
					return verifyError{fmt.Errorf("record %d (%s) does not match its record_hash; refusing to sign it", r.Sequence, id)}
				}
				sig, err := ledger.SignRecord(signer, r.RecordHash, time.Now())
				if err != nil {
					return err
				}
				if err := s.AddSignature(ctx, id, sig); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "signed record %d (%s) as %s\n", r.Sequence, id, signer.Name())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "your private key file (mode 0600)")
	cmd.Flags().StringArrayVar(&ids, "record", nil, "id of a record to sign (repeatable)")
	return cmd
}
