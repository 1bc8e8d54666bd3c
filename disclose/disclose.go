// Package disclose decides what a reader sees of the values records commit
// to (audit.Commitment): by default nothing but their commitments; the
// stored values only to a reader whose access allows the record's
// classification. Every front end — exports, reports, queries, the HTTP
// API and the MCP server — reads records through Records (or View for a
// record already in memory), so that a confidential value is shown only
// where it was asked for.
//
// Stores never attach values to the records they return: reading them is
// a separate, deliberate call (ledger.ValueReader) made here. Access is a
// guard against showing values by accident, not a security boundary
// against whoever can read the store's files; the HTTP API and the MCP
// server map their callers' roles to an Access.
package disclose

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Access says whose committed values a reader may see. The zero value
// shows none.
type Access struct {
	// All shows the committed values of every classification.
	All bool
	// Classes lists the classifications whose committed values are shown.
	Classes []string
}

// None shows no committed value; Everything shows all.
var (
	None       = Access{}
	Everything = Access{All: true}
)

// Allows reports whether values of records of the classification are
// shown.
func (a Access) Allows(classification string) bool {
	return a.All || slices.Contains(a.Classes, classification)
}

// Any reports whether any value at all may be shown.
func (a Access) Any() bool { return a.All || len(a.Classes) > 0 }

// String is the access as ParseAccess reads it.
func (a Access) String() string {
	switch {
	case a.All:
		return "all"
	case len(a.Classes) == 0:
		return "none"
	}
	return strings.Join(a.Classes, ",")
}

// ParseAccess reads an access from a flag value: "all" (or "*"), "none"
// (or empty), or a comma-separated list of classifications.
func ParseAccess(s string) (Access, error) {
	switch strings.TrimSpace(s) {
	case "", "none":
		return None, nil
	case "all", "*":
		return Everything, nil
	}
	var a Access
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return a, fmt.Errorf("reveal %q: an empty classification", s)
		}
		a.Classes = append(a.Classes, c)
	}
	return a, nil
}

// View returns r as a reader with access a sees it: r itself when its
// disclosures may be shown (or it has none), otherwise a copy without
// them.
func View(r *audit.Record, a Access) *audit.Record {
	if len(r.Disclosures) == 0 || a.Allows(r.Classification) {
		return r
	}
	return r.Masked()
}

// batch is how many records Records reads the values of at a time.
const batch = 512

// Records yields the records of seq as a reader with access a sees them.
// Records the access allows get the values the store keeps of their
// committed fields (read through vr, a batch at a time: memory stays
// flat); every other record comes without values. A redacted value is not
// there to show: its commitment remains.
func Records(ctx context.Context, vr ledger.ValueReader, a Access, seq iter.Seq2[*audit.Record, error]) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		buf := make([]*audit.Record, 0, batch)
		flush := func() bool {
			if err := attach(ctx, vr, a, buf); err != nil {
				yield(nil, err)
				return false
			}
			for _, r := range buf {
				if !yield(r, nil) {
					return false
				}
			}
			buf = buf[:0]
			return true
		}
		for r, err := range seq {
			if err != nil {
				if flush() {
					yield(nil, err)
				}
				return
			}
			buf = append(buf, View(r, a))
			if len(buf) == batch && !flush() {
				return
			}
		}
		flush()
	}
}

// attach reads the values of the records in recs the access allows.
func attach(ctx context.Context, vr ledger.ValueReader, a Access, recs []*audit.Record) error {
	if !a.Any() {
		return nil
	}
	want := map[uint64]*audit.Record{}
	var seqs []uint64
	for _, r := range recs {
		if len(r.Commitments) > 0 && r.Pruned == nil && a.Allows(r.Classification) {
			want[r.Sequence] = r
			seqs = append(seqs, r.Sequence)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	if vr == nil {
		return fmt.Errorf("the store keeps no values of committed fields")
	}
	found := map[uint64]map[string]audit.Disclosure{}
	err := vr.FieldValues(ctx, seqs, func(seq uint64, v ledger.FieldValue) error {
		r := want[seq]
		if r == nil {
			return nil
		}
		d, err := v.Disclosure()
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if c, ok := r.Commitments[v.Field]; !ok || d.Check(v.Field, c) != nil {
			return fmt.Errorf("%w: record %d (%s): the stored value of %s does not match its commitment; run 'ami-audit verify'", ledger.ErrTampered, seq, r.RecordID, v.Field)
		}
		if found[seq] == nil {
			found[seq] = map[string]audit.Disclosure{}
		}
		found[seq][v.Field] = d
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range recs {
		if d := found[r.Sequence]; d != nil && want[r.Sequence] == r {
			c := r.Clone()
			c.Disclosures = d
			recs[i] = c
		}
	}
	return nil
}

// Fields returns the record's context and metadata as a person reads
// them: the members in the clear, and each committed member as its
// disclosed value when r holds it, or else as Masked(commitment).
func Fields(r *audit.Record) (context, metadata map[string]any) {
	context, metadata = copyMap(r.Context), copyMap(r.Metadata)
	for field, c := range r.Commitments {
		sec, key, ok := audit.SplitField(field)
		if !ok {
			continue
		}
		var v any = Masked(c)
		if d, ok := r.Disclosures[field]; ok {
			v = d.Value
		}
		if sec == audit.SectionContext {
			context[key] = v
		} else {
			metadata[key] = v
		}
	}
	return context, metadata
}

// Masked is how a committed value a reader may not see (or that was
// redacted) is shown: its commitment, abbreviated.
func Masked(commitment string) string {
	if len(commitment) > 16 {
		commitment = commitment[:16] + "…"
	}
	return "[committed sha256:" + commitment + "]"
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
