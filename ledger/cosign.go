package ledger

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Cosignature is a signer's signature over a checkpoint of the log: a
// signed note whose text is the checkpoint. It vouches for every record of
// the checkpoint's tree at once — how transparency logs let a few
// signatures cover millions of records — and, because a later checkpoint's
// tree contains the earlier one's, the latest co-signature of a signer
// covers everything before it.
type Cosignature struct {
	Size      uint64    // the checkpoint's size
	Signer    string    // the signer's key name
	Note      []byte    // the checkpoint text with the signer's signature line
	Timestamp time.Time // when it was stored
}

// CosignatureStore is implemented by stores that keep co-signatures.
type CosignatureStore interface {
	AddCosignature(ctx context.Context, c Cosignature) error
	Cosignatures(ctx context.Context) ([]Cosignature, error)
}

// Cosign signs checkpoint cp with signer.
func Cosign(cp Checkpoint, signer note.Signer, now time.Time) (Cosignature, error) {
	msg, err := cp.Sign(signer)
	if err != nil {
		return Cosignature{}, err
	}
	return Cosignature{Size: cp.Size, Signer: signer.Name(), Note: msg, Timestamp: now.UTC()}, nil
}

// Coverage is, per trusted signer, the size of the largest checkpoint it
// validly co-signed whose tree is the log's tree at that size: the signer
// vouches for records 0..size-1.
type Coverage map[string]uint64

// CosignatureProblem is a stored co-signature that does not count.
type CosignatureProblem struct {
	Cosignature
	Reason string
}

// CosignedCheckpoint is a checkpoint of the log and the trusted signers
// whose co-signatures of it check.
type CosignedCheckpoint struct {
	Checkpoint
	Signers []string
}

// OpenCosignatures checks each stored co-signature's signature against the
// trusted keys and that its checkpoint names origin and the size it is
// stored at. Co-signatures by keys that are not trusted are ignored;
// others that do not check are returned as problems. Whether a checkpoint
// is the log's tree is the caller's to check (CheckCosignatures for the
// whole log, an inclusion proof for one record).
func OpenCosignatures(cosigs []Cosignature, trusted []note.Verifier, origin string) ([]CosignedCheckpoint, []CosignatureProblem) {
	var out []CosignedCheckpoint
	var problems []CosignatureProblem
	known := note.VerifierList(trusted...)
	for _, c := range cosigs {
		n, err := note.Open(c.Note, known)
		if err != nil {
			if _, unknown := err.(*note.UnknownVerifierError); unknown {
				continue
			}
			problems = append(problems, CosignatureProblem{c, fmt.Sprintf("the co-signature does not check: %v", err)})
			continue
		}
		cp, err := ParseCheckpoint(n.Text)
		switch {
		case err != nil:
			problems = append(problems, CosignatureProblem{c, err.Error()})
			continue
		case cp.Origin != origin:
			problems = append(problems, CosignatureProblem{c, fmt.Sprintf("the co-signed checkpoint is of log %q, not of this log", cp.Origin)})
			continue
		case cp.Size != c.Size:
			problems = append(problems, CosignatureProblem{c, fmt.Sprintf("stored at size %d but the co-signed checkpoint is of size %d", c.Size, cp.Size)})
			continue
		}
		cc := CosignedCheckpoint{Checkpoint: cp}
		for _, sig := range n.Sigs {
			cc.Signers = append(cc.Signers, sig.Name)
		}
		out = append(out, cc)
	}
	return out, problems
}

// CheckCosignatures checks the stored co-signatures of a verified log of
// size records (hr must serve its verified tree hashes): besides what
// OpenCosignatures checks, a co-signed checkpoint must be within the log's
// size and its root the log's tree hash at that size. A co-signature whose
// root does not check is evidence of a rewrite; one of a larger size than
// the log means records were removed.
func CheckCosignatures(cosigs []Cosignature, trusted []note.Verifier, origin string, size uint64, hr tlog.HashReader) (Coverage, []CosignatureProblem, error) {
	cov := Coverage{}
	opened, problems := OpenCosignatures(cosigs, trusted, origin)
	for _, cc := range opened {
		if cc.Size > size {
			problems = append(problems, CosignatureProblem{Cosignature{Size: cc.Size, Signer: cc.Signers[0]}, fmt.Sprintf("co-signs a checkpoint of size %d but the log holds %d records (records were removed)", cc.Size, size)})
			continue
		}
		root, err := TreeRoot(cc.Size, hr)
		if err != nil {
			return nil, nil, err
		}
		if root != cc.Root {
			problems = append(problems, CosignatureProblem{Cosignature{Size: cc.Size, Signer: cc.Signers[0]}, fmt.Sprintf("co-signs a tree of size %d that is not the log's (the log was rewritten)", cc.Size)})
			continue
		}
		for _, name := range cc.Signers {
			if cc.Size > cov[name] {
				cov[name] = cc.Size
			}
		}
	}
	return cov, problems, nil
}

// Covering lists the signers whose co-signatures cover record seq.
func (c Coverage) Covering(seq uint64) []string {
	var out []string
	for name, size := range c {
		if seq < size {
			out = append(out, name)
		}
	}
	return out
}
