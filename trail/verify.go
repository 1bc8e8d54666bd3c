package trail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Check is one line of a verification report.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Integrity is what a verification established about the trail: every
// report states it for the trail it reports on.
type Integrity struct {
	Origin string `json:"origin"`
	LogID  string `json:"log_id"`
	Store  string `json:"store"`
	// Size and Root describe the tree verified (Root in base64, as
	// checkpoints write it).
	Size uint64 `json:"size"`
	Root string `json:"root"`
	// Checkpoint is the latest tree head signed by the log key, as a
	// C2SP signed note: keep it outside the operator's reach, and
	// 'verify --checkpoint' proves later that the log still extends it.
	Checkpoint string `json:"checkpoint,omitempty"`
	// KeyFingerprint names the log key the heads were checked with;
	// empty for an unsigned trail.
	KeyFingerprint string    `json:"key_fingerprint,omitempty"`
	Signed         bool      `json:"signed"`
	Verified       bool      `json:"verified"`
	VerifiedAt     time.Time `json:"verified_at"`
}

// Report is the outcome of Verify.
type Report struct {
	OK        bool               `json:"ok"`
	Checks    []Check            `json:"checks"`
	Failure   *ledger.ChainError `json:"failure,omitempty"`
	Error     string             `json:"error,omitempty"`
	Integrity *Integrity         `json:"integrity,omitempty"`
	// Forgotten says what the trail forgot (redacted values, pruned
	// records), by which records, signed by whom.
	Forgotten *ledger.Forgotten `json:"forgotten,omitempty"`
}

func (r *Report) add(name string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// fail records err as the failing check and returns it.
func (r *Report) fail(name string, err error) error {
	r.Checks = append(r.Checks, Check{Name: name, Detail: err.Error()})
	return err
}

// finish fills OK, Failure and Error from err.
func (r *Report) finish(err error) {
	r.OK = err == nil
	var ce *ledger.ChainError
	if errors.As(err, &ce) {
		r.Failure = ce
	}
	if err != nil {
		r.Error = err.Error()
	}
}

// SavedCheckpoint is a checkpoint a user kept, with the name it is known
// by (its file).
type SavedCheckpoint struct {
	Name string
	Note []byte
}

// VerifyOptions say what Verify checks.
type VerifyOptions struct {
	// Chain verifies the whole store (the default when nothing else is
	// asked; implied by Checkpoints and Signatures).
	Chain bool
	// Signatures checks record signatures and co-signatures against the
	// Trusted keys.
	Signatures bool
	// Trusted are public key files or directories of *.pub files. Empty:
	// the trail directory's trusted/ folder.
	Trusted []string
	// Quorum, when set, requires K valid signatures by the N trusted keys
	// on every record — direct or through a co-signed checkpoint.
	Quorum ledger.Quorum
	// RecordID checks one record: its hash, its link, and its inclusion
	// in the tree of the latest signed head.
	RecordID string
	// Checkpoints are saved checkpoints the log must extend.
	Checkpoints []SavedCheckpoint
	// Progress is called with the number of records checked.
	Progress func(n uint64)
}

// Verify checks the trail and reports each check. The error is nil when
// every check passed; it wraps ledger.ErrTampered when the data was read
// and is not what was appended.
func (t *Trail) Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	rep := &Report{}
	err := t.verify(ctx, o, rep)
	rep.finish(err)
	return rep, err
}

func (t *Trail) verify(ctx context.Context, o VerifyOptions, rep *Report) error {
	// One record alone is checked without reading the whole log, its
	// signatures included; anything else reads the whole store.
	recordOnly := o.RecordID != "" && !o.Chain && len(o.Checkpoints) == 0
	if !recordOnly {
		o.Chain = true
	}
	var trusted []note.Verifier
	if o.Signatures {
		var err error
		if trusted, err = t.trustedKeys(o.Trusted); err != nil {
			return err
		}
		if o.Quorum.N != 0 && o.Quorum.N != len(trusted) {
			return fmt.Errorf("%w: quorum %s names %d trusted keys but %d are trusted", ErrOptions, o.Quorum, o.Quorum.N, len(trusted))
		}
	}
	var saved []ledger.Checkpoint
	for _, c := range o.Checkpoints {
		cp, err := t.openCheckpoint(c.Note)
		if err != nil {
			return rep.fail("checkpoint", fmt.Errorf("%s: %w", c.Name, err))
		}
		saved = append(saved, cp)
	}
	if o.RecordID != "" {
		if err := t.verifyRecord(ctx, o.RecordID, rep); err != nil {
			return err
		}
	}
	if recordOnly {
		if o.Signatures {
			return t.verifyRecordSignatures(ctx, o.RecordID, trusted, o.Quorum, rep)
		}
		return nil
	}
	var sizes []uint64
	for _, cp := range saved {
		sizes = append(sizes, cp.Size)
	}
	seen, err := t.readLatest()
	if err != nil {
		return rep.fail("seen", err)
	}
	if seen != nil {
		sizes = append(sizes, seen.Size)
	}
	res, err := ledger.Verify(ctx, t.raw, ledger.Options{Key: t.pub, RootsAt: sizes, Progress: o.Progress, Redactors: t.Redactors()})
	if err != nil {
		name := "chain"
		var ce *ledger.ChainError
		if errors.As(err, &ce) && ce.Check != "" {
			name = ce.Check
		}
		return rep.fail(name, err)
	}
	rep.add("chain", true, "%s, hashes and links intact, Merkle root %s; no row outside the log",
		plural.Count(res.Size, "record"), base64.StdEncoding.EncodeToString(res.Root[:]))
	rep.Forgotten = res.Forgotten
	reportForgotten(rep, res.Forgotten)
	switch {
	case res.Size == 0:
		rep.add("tree heads", true, "the log is empty")
	case res.Signed:
		rep.add("tree heads", true, "%d stored, signed by the log key %s; the latest (size %d) matches the records", res.Heads, Fingerprint(t.pub), res.Size)
	default:
		rep.add("tree heads", true, "%d stored, unsigned (the trail was created without a log key: nothing outside the store vouches for it); the latest matches the records", res.Heads)
	}
	hr := t.hashReader(ctx)
	if seen != nil {
		if err := ledger.CheckCheckpoint(*seen, res.VerifyResult, hr); err != nil {
			return rep.fail("seen", fmt.Errorf("the log does not extend the tree head this machine last saw (size %d, %s): %w", seen.Size, t.path(LatestFile), err))
		}
		rep.add("seen", true, "the log extends the tree head this machine last saw (size %d)", seen.Size)
	}
	for i, cp := range saved {
		name := o.Checkpoints[i].Name
		if err := ledger.CheckCheckpoint(cp, res.VerifyResult, hr); err != nil {
			return rep.fail("checkpoint", fmt.Errorf("%s: %w", name, err))
		}
		rep.add("checkpoint", true, "%s: size %d, signature valid, the log (size %d) extends it", name, cp.Size, res.Size)
	}
	rep.Integrity = t.integrity(res)
	if o.Signatures {
		if err := t.verifySignatures(ctx, res, trusted, o.Quorum, rep); err != nil {
			return err
		}
	}
	if !t.cfg.ReadOnly && t.hasDir && res.Signed {
		if err := t.rememberLatest(ctx); err != nil {
			return rep.fail("seen", err)
		}
	}
	return nil
}

func (t *Trail) integrity(res ledger.Result) *Integrity {
	in := &Integrity{Origin: t.id.Origin, LogID: t.id.LogID, Store: t.loc, Size: res.Size,
		Root: base64.StdEncoding.EncodeToString(res.Root[:]), Signed: res.Signed, Verified: true, VerifiedAt: time.Now().UTC()}
	if res.Signed {
		in.Checkpoint = string(res.LatestNote)
		in.KeyFingerprint = Fingerprint(t.pub)
	}
	return in
}

// openCheckpoint checks a saved checkpoint's signature with the log key
// and that it is a checkpoint of this log.
func (t *Trail) openCheckpoint(msg []byte) (ledger.Checkpoint, error) {
	if t.pub == nil {
		return ledger.Checkpoint{}, fmt.Errorf("%w to check a checkpoint (--key FILE)", ErrNeedPublicKey)
	}
	cp, _, err := ledger.OpenCheckpoint(msg, note.VerifierList(t.pub))
	if err != nil {
		if text, ok := checkpointText(msg); ok {
			if other, perr := ledger.ParseCheckpoint(text); perr == nil && other.Origin != t.id.Origin {
				return cp, fmt.Errorf("%w: a checkpoint of log %q, not of this log (%q)", ledger.ErrTampered, other.Origin, t.id.Origin)
			}
			return cp, fmt.Errorf("%w: not signed by this log's key %s (%v); a checkpoint of another log of the same name, or altered", ledger.ErrTampered, Fingerprint(t.pub), err)
		}
		return cp, fmt.Errorf("%w: %v", ledger.ErrTampered, err)
	}
	if cp.Origin != t.id.Origin {
		return cp, fmt.Errorf("%w: a checkpoint of log %q, not of this log (%q)", ledger.ErrTampered, cp.Origin, t.id.Origin)
	}
	return cp, nil
}

// checkpointText is the text of a signed note, unverified.
func checkpointText(msg []byte) (string, bool) {
	s := string(msg)
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\n' && s[i+1] == '\n' {
			return s[:i+1], true
		}
	}
	return "", false
}

// verifyRecord checks one record without reading the whole log: its
// stored content hashes to its record hash and is its canonical form, it
// links to the record before it, and it is in the tree of the latest
// head, signed by the log key when there is one.
func (t *Trail) verifyRecord(ctx context.Context, id string, rep *Report) error {
	r, err := t.raw.Get(ctx, id)
	if err != nil {
		return err
	}
	fail := func(reason string) error {
		return rep.fail("record", &ledger.ChainError{Seq: r.Sequence, RecordID: r.RecordID, Reason: reason})
	}
	var body []byte
	var values []ledger.FieldValue
	var pruned *audit.Pruning
	err = t.raw.ScanRaw(ctx, r.Sequence, r.Sequence+1, func(raw *ledger.RawRecord) error {
		body = append([]byte(nil), raw.Body...)
		for _, v := range raw.Values {
			values = append(values, ledger.FieldValue{Field: v.Field, Salt: slices.Clone(v.Salt), Value: slices.Clone(v.Value)})
		}
		if raw.Pruned != nil {
			p := *raw.Pruned
			pruned = &p
		}
		return nil
	})
	if err != nil {
		return err
	}
	sum, err := hex.DecodeString(r.RecordHash)
	if err != nil || len(sum) != 32 {
		return fail("the stored record_hash is not 32 bytes")
	}
	what := "hash, link"
	if pruned != nil {
		// Its content is gone; its hash must still be a leaf of the
		// signed tree (below). The whole-log check ties it to the
		// retention record that pruned it.
		what = fmt.Sprintf("pruned by retention (policy %s, record %d): its content is gone, its hash", pruned.Policy, pruned.RetentionSequence)
	} else {
		if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
			return fail("record_hash mismatch: the stored content does not hash to the stored record_hash (the record was changed)")
		}
		if h, err := r.Hash(); err != nil || h != r.RecordHash {
			return fail("the stored content is not the canonical form of the record")
		}
		seen := map[string]bool{}
		for _, v := range values {
			c, ok := r.Commitments[v.Field]
			if got, err := audit.CommitmentOf(v.Field, v.Salt, v.Value); !ok || err != nil || got != c {
				return fail(fmt.Sprintf("the stored value of %s does not match its commitment (the value or its salt was changed)", v.Field))
			}
			seen[v.Field] = true
		}
		if len(r.Commitments) > 0 {
			what = fmt.Sprintf("hash, %d committed values matching their commitments", len(seen))
			if n := len(r.Commitments) - len(seen); n > 0 {
				what += fmt.Sprintf(" (%d redacted: the whole-log check ties each to its redaction record)", n)
			}
			what += ", link"
		}
	}
	if r.Sequence > 0 && pruned == nil {
		var prev string
		for p, err := range t.raw.Range(ctx, r.Sequence-1, r.Sequence) {
			if err != nil {
				return err
			}
			prev = p.RecordHash
		}
		if prev != r.PreviousHash {
			return fail("previous_hash mismatch: it does not link to the record before it")
		}
	} else if r.Sequence == 0 && pruned == nil && r.PreviousHash != "0" {
		return fail(`the first record must have previous_hash "0"`)
	}
	latest, err := t.raw.LatestTreeHead(ctx)
	if err != nil {
		return err
	}
	if latest == nil || latest.Size <= r.Sequence {
		return fail("no tree head covers the record (the heads were deleted)")
	}
	head := *latest
	root, how := head.Root, "unsigned"
	if t.pub != nil {
		cp, err := ledger.OpenHead(head, t.id.Origin, t.pub)
		if err != nil {
			return fail(err.Error())
		}
		root, how = cp.Root, "signed"
	}
	hr := t.hashReader(ctx)
	proof, err := tlog.ProveRecord(int64(head.Size), int64(r.Sequence), hr)
	if err != nil {
		return fail("no inclusion proof can be built from the stored tree: " + err.Error())
	}
	if err := tlog.CheckRecord(proof, int64(head.Size), root, int64(r.Sequence), ledger.LeafHash([32]byte(sum))); err != nil {
		return fail("not included in the tree of the latest tree head: " + err.Error())
	}
	rep.add("record", true, "%d (%s): %s and inclusion in the %s tree head of %s", r.Sequence, r.RecordID, what, how, plural.Count(head.Size, "record"))
	return nil
}

// trustedKeys loads the trusted public keys: the given files and
// directories, or the trail's trusted/ folder.
func (t *Trail) trustedKeys(paths []string) ([]note.Verifier, error) {
	if len(paths) == 0 {
		dir := t.path(TrustedDir)
		if !statIsDir(dir) {
			return nil, fmt.Errorf("%w: no trusted keys: put the signers' .pub files in %s (ami-audit keygen --trust does), or give --trusted DIR", ErrOptions, dir)
		}
		paths = []string{dir}
	}
	return keys.LoadTrusted(paths...)
}

// verifySignatures checks every signature by a trusted key on the
// verified records and every co-signature of a checkpoint, and, with a
// quorum, that each record has K valid signers among the trusted keys —
// its own signatures and the co-signatures of checkpoints covering it.
func (t *Trail) verifySignatures(ctx context.Context, res ledger.Result, trusted []note.Verifier, q ledger.Quorum, rep *Report) error {
	cov := ledger.Coverage{}
	var cosigned int
	if cs, ok := t.raw.(ledger.CosignatureStore); ok {
		list, err := cs.Cosignatures(ctx)
		if err != nil {
			return err
		}
		var problems []ledger.CosignatureProblem
		cov, problems, err = ledger.CheckCosignatures(list, trusted, t.id.Origin, res.Size, t.hashReader(ctx))
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			p := problems[0]
			return rep.fail("signatures", fmt.Errorf("%w: the co-signature by %s of the checkpoint at size %d: %s", ledger.ErrTampered, p.Signer, p.Size, p.Reason))
		}
		cosigned = len(cov)
	}
	var checked, signed, unknown int
	for r, err := range t.raw.Range(ctx, 0, res.Size) {
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
			return rep.fail("signatures", &ledger.ChainError{Seq: r.Sequence, RecordID: r.RecordID, Reason: reason})
		}
		if len(c.Invalid) > 0 {
			return fail(fmt.Sprintf("signature by %s does not verify (the record or the signature was changed)", c.Invalid[0]))
		}
		if q.K > 0 {
			signers := slices.Clone(c.Valid)
			for _, name := range cov.Covering(r.Sequence) {
				if !slices.Contains(signers, name) {
					signers = append(signers, name)
				}
			}
			if len(signers) < q.K {
				slices.Sort(signers)
				return fail(fmt.Sprintf("quorum %s not met: %s %v, by their own signature or a co-signed checkpoint covering it", q, plural.Count(len(signers), "trusted signer"), signers))
			}
		}
	}
	detail := fmt.Sprintf("%s checked, %d signed, every signature by a trusted key valid", plural.Count(checked, "record"), signed)
	if cosigned > 0 {
		detail += fmt.Sprintf("; %s co-signed checkpoints of this log", plural.Count(cosigned, "trusted signer"))
	}
	if q.K > 0 {
		detail += fmt.Sprintf("; quorum %s met by every record", q)
	}
	if unknown > 0 {
		detail += fmt.Sprintf(" (%s by keys not trusted not counted)", plural.Count(unknown, "signature"))
	}
	rep.add("signatures", true, "%s", detail)
	return nil
}

// verifyRecordSignatures checks one record's signatures and the
// co-signed checkpoints whose tree includes it (by an inclusion proof
// against each checkpoint's co-signed root), and the quorum over both.
func (t *Trail) verifyRecordSignatures(ctx context.Context, id string, trusted []note.Verifier, q ledger.Quorum, rep *Report) error {
	r, err := t.raw.Get(ctx, id)
	if err != nil {
		return err
	}
	fail := func(reason string) error {
		return rep.fail("signatures", &ledger.ChainError{Seq: r.Sequence, RecordID: r.RecordID, Reason: reason})
	}
	c := ledger.CheckSignatures(r, trusted)
	if len(c.Invalid) > 0 {
		return fail(fmt.Sprintf("signature by %s does not verify (the record or the signature was changed)", c.Invalid[0]))
	}
	signers := slices.Clone(c.Valid)
	if cs, ok := t.raw.(ledger.CosignatureStore); ok {
		list, err := cs.Cosignatures(ctx)
		if err != nil {
			return err
		}
		opened, problems := ledger.OpenCosignatures(list, trusted, t.id.Origin)
		if len(problems) > 0 {
			p := problems[0]
			return rep.fail("signatures", fmt.Errorf("%w: the co-signature by %s of the checkpoint at size %d: %s", ledger.ErrTampered, p.Signer, p.Size, p.Reason))
		}
		sum, _ := hex.DecodeString(r.RecordHash)
		hr := t.hashReader(ctx)
		for _, cc := range opened {
			if cc.Size <= r.Sequence {
				continue
			}
			proof, err := tlog.ProveRecord(int64(cc.Size), int64(r.Sequence), hr)
			if err == nil {
				err = tlog.CheckRecord(proof, int64(cc.Size), cc.Root, int64(r.Sequence), ledger.LeafHash([32]byte(sum)))
			}
			if err != nil {
				return fail(fmt.Sprintf("not in the tree of the checkpoint of size %d that %v co-signed (the log was rewritten): %v", cc.Size, cc.Signers, err))
			}
			for _, name := range cc.Signers {
				if !slices.Contains(signers, name) {
					signers = append(signers, name)
				}
			}
		}
	}
	slices.Sort(signers)
	if q.K > 0 && len(signers) < q.K {
		return fail(fmt.Sprintf("quorum %s not met: %s %v, by their own signature or a co-signed checkpoint covering it", q, plural.Count(len(signers), "trusted signer"), signers))
	}
	detail := fmt.Sprintf("%d (%s): %s %v, every signature valid", r.Sequence, r.RecordID, plural.Count(len(signers), "trusted signer"), signers)
	if q.K > 0 {
		detail += fmt.Sprintf("; quorum %s met", q)
	}
	rep.add("signatures", true, "%s", detail)
	return nil
}

// ReadCheckpoints reads saved checkpoint files.
func ReadCheckpoints(paths []string) ([]SavedCheckpoint, error) {
	var out []SavedCheckpoint
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, SavedCheckpoint{Name: filepath.Clean(p), Note: b})
	}
	return out, nil
}

// reportForgotten adds the checks of what the trail forgot: committed
// values, redactions and retention.
func reportForgotten(rep *Report, f *ledger.Forgotten) {
	if f == nil {
		return
	}
	if f.Committed > 0 {
		detail := fmt.Sprintf("%s %s confidential values; every stored value matches its commitment", plural.Count(f.Committed, "record"), plural.Pick(f.Committed, "commits its", "commit their"))
		if f.RedactedFields > 0 {
			detail += fmt.Sprintf("; %s redacted (their commitments remain)", plural.Count(f.RedactedFields, "value"))
		}
		rep.add("commitments", true, "%s", detail)
	}
	for _, r := range f.Redactions {
		rep.add("redacted", true, "record %d (%s): %s, by %s at %s (record %d, signed by %s): %s",
			r.Claim.Sequence, r.Claim.RecordID, strings.Join(r.Claim.Fields, ", "), r.Actor, r.Time.UTC().Format(time.RFC3339),
			r.Seq, strings.Join(r.SignedBy, ", "), r.Reason)
	}
	for _, r := range f.Retentions {
		var parts []string
		for _, p := range r.Claim.Policies {
			if p.Records > 0 {
				parts = append(parts, fmt.Sprintf("%s by policy %s (keep %s, before %s; records %d..%d)", plural.Count(p.Records, "record"), p.Policy, p.Keep, p.Cutoff, p.First, p.Last))
			}
		}
		if r.Claim.KeptByHolds > 0 {
			parts = append(parts, fmt.Sprintf("%s kept by legal holds", plural.Count(r.Claim.KeptByHolds, "expired record")))
		}
		rep.add("pruned", true, "%s at %s (record %d, signed by %s): %s; their hashes remain in the chain and the tree",
			r.Actor, r.Time.UTC().Format(time.RFC3339), r.Seq, strings.Join(r.SignedBy, ", "), strings.Join(parts, "; "))
	}
}

// TrustedKeys loads the public keys trusted to sign records and co-sign
// checkpoints: the given files and directories of *.pub files, or the
// trail's trusted/ folder. No trusted/ folder is no key, not an error.
func (t *Trail) TrustedKeys(paths []string) ([]note.Verifier, error) {
	if len(paths) == 0 && !statIsDir(t.path(TrustedDir)) {
		return nil, nil
	}
	return t.trustedKeys(paths)
}
