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
// could not be read. It is KeyFacts followed by Verify.
func FactsOf(ctx context.Context, tr *trail.Trail, o GatherOptions) (Facts, *trail.Report, error) {
	f, err := KeyFacts(ctx, tr, o)
	if err != nil {
		return f, nil, err
	}
	rep, err := Verify(ctx, tr, o, &f)
	return f, rep, err
}

// KeyFacts gathers the facts that need no verification of the whole
// trail: its size, the trusted keys and what their co-signatures cover,
// the retention policies and the schedules. Verify adds the rest; a
// caller may run it while Assess reads the period (Input.Complete).
func KeyFacts(ctx context.Context, tr *trail.Trail, o GatherOptions) (Facts, error) {
	var f Facts
	head, err := tr.Raw().Head(ctx)
	if err != nil {
		return f, err
	}
	f.Size = head.Size
	trusted, err := tr.TrustedKeys(o.Trusted)
	if err != nil {
		return f, err
	}
	f.Trusted = trusted
	if cs, ok := tr.Raw().(ledger.CosignatureStore); ok && len(trusted) > 0 && f.Size > 0 {
		list, err := cs.Cosignatures(ctx)
		if err != nil {
			return f, err
		}
		cov, _, err := ledger.CheckCosignatures(list, trusted, tr.Identity().Origin, f.Size, tr.Raw().HashReader(ctx))
		if err != nil {
			return f, err
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
	for _, s := range st.Schedules {
		f.Schedules = append(f.Schedules, Job{Name: s.Name, Cron: s.Cron, Command: s.Run})
	}
	return f, nil
}

// Verify verifies the whole trail and records the outcome in f (and,
// when retention policies are set and the trail verifies, the records
// kept longer than their policy). A trail that does not verify is a fact:
// the error is nil, f.Failure names the first failing record.
func Verify(ctx context.Context, tr *trail.Trail, o GatherOptions, f *Facts) (*trail.Report, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	rep, err := tr.Verify(ctx, trail.VerifyOptions{Chain: true, Progress: o.Progress})
	f.VerifiedAt = time.Now().UTC()
	if err != nil {
		if !errors.Is(err, ledger.ErrTampered) {
			return rep, err
		}
		f.Failure = rep.Failure
		if f.Failure == nil {
			f.Failure = &ledger.ChainError{Seq: 0, Reason: err.Error()}
		}
		if tr.PublicKey() != nil {
			f.Signed, f.SignedSize = true, f.Size
		}
		return rep, nil
	}
	f.Verified = true
	if in := rep.Integrity; in != nil {
		f.Size = in.Size
		f.Signed, f.SignedSize = in.Signed, in.Size
	}
	st := tr.Settings()
	if len(st.Retention.Policies) > 0 {
		for d, err := range retention.Overdue(ctx, tr.Raw(), st.Retention, o.Now) {
			if err != nil {
				return rep, err
			}
			if f.Retention.Overdue == 0 {
				f.Retention.First = d.Seq
			}
			f.Retention.Overdue++
			f.Retention.Last = d.Seq
		}
		f.Retention.Checked = true
	}
	return rep, nil
}
