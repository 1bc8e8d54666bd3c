package ledger

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
)

// SignedMessage is what a record signature signs: a fixed prefix (so that a
// record signature can never be mistaken for a signature on anything else)
// and the record hash in hex.
func SignedMessage(recordHash string) []byte {
	return []byte("ami-audit record signature v1\n" + recordHash + "\n")
}

// SignRecord signs a record hash with signer and returns the Signature to
// store. The signer's name is the signer field.
func SignRecord(signer note.Signer, recordHash string, now time.Time) (audit.Signature, error) {
	if recordHash == "" {
		return audit.Signature{}, errors.New("record has no hash yet: append it before signing")
	}
	sig, err := signer.Sign(SignedMessage(recordHash))
	if err != nil {
		return audit.Signature{}, err
	}
	return audit.Signature{
		Signer:    signer.Name(),
		Signature: base64.StdEncoding.EncodeToString(sig),
		Algorithm: audit.AlgorithmEd25519,
		Timestamp: now.UTC(),
	}, nil
}

// SignatureCheck is the outcome of checking one record's signatures.
type SignatureCheck struct {
	Valid   []string // trusted signers whose signature checks
	Invalid []string // signatures by a trusted signer's name that do not check
	Unknown []string // signers with no trusted key
}

// CheckSignatures checks every signature of r against the trusted keys.
// A signer counts once however many of its signatures are stored.
func CheckSignatures(r *audit.Record, trusted []note.Verifier) SignatureCheck {
	var c SignatureCheck
	msg := SignedMessage(r.RecordHash)
	for _, s := range r.Signatures {
		var named []note.Verifier
		for _, v := range trusted {
			if v.Name() == s.Signer {
				named = append(named, v)
			}
		}
		if len(named) == 0 {
			c.Unknown = append(c.Unknown, s.Signer)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(s.Signature)
		ok := err == nil && s.Algorithm == audit.AlgorithmEd25519 &&
			slices.ContainsFunc(named, func(v note.Verifier) bool { return v.Verify(msg, raw) })
		switch {
		case !ok:
			c.Invalid = append(c.Invalid, s.Signer)
		case !slices.Contains(c.Valid, s.Signer):
			c.Valid = append(c.Valid, s.Signer)
		}
	}
	return c
}

// Quorum is "k of n": at least K valid signatures from N trusted signers.
type Quorum struct{ K, N int }

// ParseQuorum reads "k/n" or "k-of-n".
func ParseQuorum(s string) (Quorum, error) {
	var q Quorum
	if _, err := fmt.Sscanf(s, "%d/%d", &q.K, &q.N); err != nil {
		if _, err := fmt.Sscanf(s, "%d-of-%d", &q.K, &q.N); err != nil {
			return q, fmt.Errorf("quorum %q: want k/n, e.g. 2/3", s)
		}
	}
	if q.K < 1 || q.N < 1 || q.K > q.N {
		return q, fmt.Errorf("quorum %q: want 1 <= k <= n", s)
	}
	return q, nil
}

func (q Quorum) String() string { return fmt.Sprintf("%d/%d", q.K, q.N) }
