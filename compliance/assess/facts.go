package assess

import (
	"context"
	"errors"
	"time"

	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/retention"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// GatherOptions say how FactsOf checks a trail.
type GatherOptions struct {
	// Trusted are the public key files or directories of the signers
	// whose signatures and co-signatures count (default: the trail's
	// trusted/ folder).
	Trusted []string
	// Now is the time retention is judged at (default time.Now).
	Now time.Time
	// Progress is called with the number of records verified.
	Progress func(n uint64)
}

// FactsOf checks the trail and returns the facts an assessment is made
// with, and the verification report (whose Integrity every report states).
// A trail that does not verify is a fact, not an error: the report names
// the first failing record and the error is nil; an error means the trail
// could not be read.
func FactsOf(ctx context.Context, tr *trail.Trail, o GatherOptions) (Facts, *trail.Report, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var f Facts
	head, err := tr.Raw().Head(ctx)
	if err != nil {
		return f, nil, err
	}
	f.Size = head.Size
	rep, err := tr.Verify(ctx, trail.VerifyOptions{Chain: true, Progress: o.Progress})
	f.VerifiedAt = time.Now().UTC()
	if err != nil {
		if !errors.Is(err, ledger.ErrTampered) {
			return f, rep, err
		}
		f.Failure = rep.Failure
		if f.Failure == nil {
			f.Failure = &ledger.ChainError{Seq: 0, Reason: err.Error()}
		}
	} else {
		f.Verified = true
		if in := rep.Integrity; in != nil {
			f.Size = in.Size
			f.Signed, f.SignedSize = in.Signed, in.Size
		}
	}
	if f.Failure != nil && tr.PublicKey() != nil {
		// The heads are signed; how far is what the failure says.
		f.Signed, f.SignedSize = true, f.Size
	}
	trusted, err := tr.TrustedKeys(o.Trusted)
	if err != nil {
		return f, rep, err
	}
	f.Trusted = trusted
	if cs, ok := tr.Raw().(ledger.CosignatureStore); ok && f.Verified && len(trusted) > 0 {
		list, err := cs.Cosignatures(ctx)
		if err != nil {
			return f, rep, err
		}
		cov, _, err := ledger.CheckCosignatures(list, trusted, tr.Identity().Origin, f.Size, tr.Raw().HashReader(ctx))
		if err != nil {
			return f, rep, err
		}
		f.Coverage = cov
		for _, size := range cov {
			f.Cosigned = max(f.Cosigned, size)
		}
		for _, c := range list {
			if c.Size == f.Cosigned && c.Timestamp.After(f.CosignedAt) {
				f.CosignedAt = c.Timestamp.UTC()
			}
		}
	}
	st := tr.Settings()
	f.Retention.Policies = st.Retention.Policies
	if len(st.Retention.Policies) > 0 && f.Verified {
		for d, err := range retention.Overdue(ctx, tr.Raw(), st.Retention, o.Now) {
			if err != nil {
				return f, rep, err
			}
			if f.Retention.Overdue == 0 {
				f.Retention.First = d.Seq
			}
			f.Retention.Overdue++
			f.Retention.Last = d.Seq
		}
		f.Retention.Checked = true
	}
	for _, s := range st.Schedules {
		f.Schedules = append(f.Schedules, Job{Name: s.Name, Cron: s.Cron, Command: s.Run})
	}
	return f, rep, nil
}
