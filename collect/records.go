package collect

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// streamAppender is implemented by stores that append a whole stream in one
// transaction.
type streamAppender interface {
	AppendStream(ctx context.Context, seq iter.Seq2[*audit.Record, error]) (int, error)
}

// ReservedAction refuses the actions of the records only the trail itself
// appends, each with what it removed (redact, retention): a record given
// to the trail cannot claim one. The error is a usage error.
func ReservedAction(action string) error {
	if slices.Contains(audit.ForgettingActions, action) {
		return usererr.WithHint(usererr.Usagef("action %q is reserved: the trail records it itself", action), "use 'ami-audit redact' or 'ami-audit retention'")
	}
	return nil
}

// AppendRecord masks one record given to the trail (by a person, a
// script, a program) and appends it. Appends of many callers at once
// share the store's group commit.
func AppendRecord(ctx context.Context, env *Env, r *audit.Record, signers []note.Signer) error {
	if err := ReservedAction(r.Action); err != nil {
		return err
	}
	s, err := env.Open(ctx)
	if err != nil {
		return err
	}
	d, err := env.Detector()
	if err != nil {
		return err
	}
	d.MaskRecord(r)
	if len(signers) == 0 {
		return s.Append(ctx, []*audit.Record{r})
	}
	_, err = appendSigned(ctx, s, func(yield func(*audit.Record, error) bool) { yield(r, nil) }, signers)
	return err
}

// AppendRecords refuses a reserved action (ReservedAction), masks the
// records seq yields and appends them atomically, in one transaction,
// streaming (memory stays flat): every record, or —
// when seq yields an error or a record is refused — none. each, when not
// nil, sees every record after it is masked and before it is appended.
// It returns the number appended.
func AppendRecords(ctx context.Context, env *Env, seq iter.Seq2[*audit.Record, error], signers []note.Signer, each func(*audit.Record)) (int, error) {
	s, err := env.Open(ctx)
	if err != nil {
		return 0, err
	}
	d, err := env.Detector()
	if err != nil {
		return 0, err
	}
	masked := func(yield func(*audit.Record, error) bool) {
		for r, err := range seq {
			if err == nil {
				err = ReservedAction(r.Action)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			d.MaskRecord(r)
			if each != nil {
				each(r)
			}
			if !yield(r, nil) {
				return
			}
		}
	}
	if len(signers) > 0 {
		return appendSigned(ctx, s, masked, signers)
	}
	if sa, ok := s.(streamAppender); ok {
		return sa.AppendStream(ctx, masked)
	}
	var batch []*audit.Record
	for r, err := range masked {
		if err != nil {
			return 0, err
		}
		batch = append(batch, r)
	}
	if err := s.Append(ctx, batch); err != nil {
		return 0, err
	}
	return len(batch), nil
}

// appendSigned appends a stream of records in one transaction, each signed
// by signers in the same transaction: the records and their signatures are
// stored together, or nothing is.
func appendSigned(ctx context.Context, s audit.Store, seq iter.Seq2[*audit.Record, error], signers []note.Signer) (int, error) {
	ss, ok := s.(interface {
		AppendStreamSigned(context.Context, iter.Seq2[*audit.Record, error], func(*audit.Record) error) (int, error)
	})
	if !ok {
		return 0, fmt.Errorf("this store cannot sign records as it appends them; append, then run 'ami-audit sign'")
	}
	now := time.Now()
	return ss.AppendStreamSigned(ctx, seq, func(r *audit.Record) error {
		for _, sg := range signers {
			sig, err := ledger.SignRecord(sg, r.RecordHash, now)
			if err != nil {
				return err
			}
			r.Signatures = append(r.Signatures, sig)
		}
		return nil
	})
}
