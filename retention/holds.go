package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Hold is a legal hold: records it covers are never pruned, whatever the
// policies say, until a legal_hold_released record (signed by a key
// allowed to make the trail forget) lifts it. A hold is a record of the
// trail (action legal_hold), so who placed it, when and why is evidence
// like any other.
type Hold struct {
	// ID is the legal_hold record's id.
	ID string `json:"id"`
	// Target: the hold covers every record about this target. Otherwise
	// it covers the records with From <= sequence < To.
	Target   string `json:"target,omitempty"`
	From, To uint64 `json:"-"`
	// Who placed it, when and why.
	Actor  string    `json:"actor"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
}

// HoldClaim is the context of a legal_hold record.
type HoldClaim struct {
	Target string  `json:"target,omitempty"`
	From   *uint64 `json:"from_sequence,omitempty"`
	To     *uint64 `json:"to_sequence,omitempty"`
}

// ReleaseClaim is the context of a legal_hold_released record.
type ReleaseClaim struct {
	Hold string `json:"hold"`
}

// Covers reports whether the hold covers the record at seq about target.
func (h Hold) Covers(seq uint64, target string) bool {
	if h.Target != "" {
		return target == h.Target
	}
	return seq >= h.From && seq < h.To
}

// String describes what the hold covers.
func (h Hold) String() string {
	if h.Target != "" {
		return "records about " + h.Target
	}
	return fmt.Sprintf("records %d..%d", h.From, h.To-1)
}

// NewHoldRecord builds the legal_hold record of a hold on target (of the
// target type tt), or (when target is empty) on the records from <=
// sequence < to. origin is the trail's: a hold on a range is about the
// trail itself.
func NewHoldRecord(target string, tt audit.TargetType, from, to uint64, origin, actor, reason string) (*audit.Record, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("a legal hold needs a reason")
	}
	c := HoldClaim{Target: target}
	about := target
	if target == "" {
		if to <= from {
			return nil, fmt.Errorf("hold %d..%d: an empty range", from, to)
		}
		c.From, c.To = &from, &to
		about, tt = origin, audit.TargetLog
	}
	return ledger.NewTrailRecord(audit.ActionLegalHold, about, tt, actor, reason, c)
}

// NewReleaseRecord builds the legal_hold_released record lifting hold,
// about what the hold record was about.
func NewReleaseRecord(hold *audit.Record, actor, reason string) (*audit.Record, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("releasing a legal hold needs a reason")
	}
	return ledger.NewTrailRecord(audit.ActionLegalHoldReleased, hold.Target, hold.TargetType, actor, reason, ReleaseClaim{Hold: hold.RecordID})
}

// Holds lists the legal holds in force in the trail: every legal_hold
// record the trail's source wrote, minus those a legal_hold_released
// record lifted. (Verification checks that each release is signed by a
// key allowed to make the trail forget.)
func Holds(ctx context.Context, s audit.Store) ([]Hold, error) {
	var holds []Hold
	released := map[string]bool{}
	for _, action := range []string{audit.ActionLegalHold, audit.ActionLegalHoldReleased} {
		for r, err := range s.Query(ctx, audit.Filter{Action: action, Limit: -1}) {
			if err != nil {
				return nil, err
			}
			if r.Source != audit.SourceTrail {
				continue
			}
			if action == audit.ActionLegalHoldReleased {
				var c ReleaseClaim
				if err := ledger.ParseClaim(r, &c); err != nil {
					return nil, err
				}
				released[c.Hold] = true
				continue
			}
			var c HoldClaim
			if err := ledger.ParseClaim(r, &c); err != nil {
				return nil, err
			}
			h := Hold{ID: r.RecordID, Target: c.Target, Actor: r.Actor, Time: r.Timestamp, Reason: r.Reason}
			if c.Target == "" {
				if c.From == nil || c.To == nil || *c.To <= *c.From {
					return nil, fmt.Errorf("record %d (%s): a legal hold on no target and no range", r.Sequence, r.RecordID)
				}
				h.From, h.To = *c.From, *c.To
			}
			holds = append(holds, h)
		}
	}
	out := holds[:0]
	for _, h := range holds {
		if !released[h.ID] {
			out = append(out, h)
		}
	}
	return out, nil
}
