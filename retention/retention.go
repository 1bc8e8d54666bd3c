// Package retention says how long a trail keeps its records: policies per
// target type, source or classification ("log entries 90 days",
// "compliance evidence 7 years"), and legal holds that keep records
// whatever the policies say. Expired finds what a policy no longer keeps;
// package trail prunes it (retention apply) and the compliance analyzer
// uses Overdue to find data kept longer than its policy.
//
// Pruning removes a record's body and keeps its record hash and Merkle
// tree hashes (ledger.ForgetTx.Prune), so the chain, the tree, old
// checkpoints and proofs of the records kept all still verify.
package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Settings are a trail's retention policies (the retention section of
// .audit/config.yaml).
type Settings struct {
	Policies []Policy `yaml:"policies,omitempty" json:"policies,omitempty"`
}

// Policy keeps the records it matches for Keep. A record matches when it
// has every selector that is set; a record matching several policies is
// kept by the one that keeps it longest, and a record no policy matches is
// kept for ever. The records that explain what a trail forgot (redaction,
// retention and legal hold records) are never pruned.
type Policy struct {
	// Name identifies the policy in retention records and reports.
	Name string `yaml:"name" json:"name"`
	// Selectors: the record's target_type, source and classification.
	TargetType     string `yaml:"target_type,omitempty" json:"target_type,omitempty"`
	Source         string `yaml:"source,omitempty" json:"source,omitempty"`
	Classification string `yaml:"classification,omitempty" json:"classification,omitempty"`
	// Keep is how long a record is kept after its timestamp: a number and
	// a unit, h (hours), d (days), w (weeks), mo (months) or y (years),
	// e.g. "90d", "7y".
	Keep string `yaml:"keep" json:"keep"`
}

var keepPattern = regexp.MustCompile(`^([0-9]{1,6})(h|d|w|mo|y)$`)

// Cutoff is the time before which a record of the policy has expired, at
// now. Months and years are calendar months and years.
func (p Policy) Cutoff(now time.Time) (time.Time, error) {
	m := keepPattern.FindStringSubmatch(p.Keep)
	if m == nil {
		return time.Time{}, fmt.Errorf("policy %q: keep %q: want a number and a unit h, d, w, mo or y (e.g. 90d, 7y)", p.Name, p.Keep)
	}
	n, _ := strconv.Atoi(m[1])
	now = now.UTC()
	switch m[2] {
	case "h":
		return now.Add(-time.Duration(n) * time.Hour), nil
	case "d":
		return now.AddDate(0, 0, -n), nil
	case "w":
		return now.AddDate(0, 0, -7*n), nil
	case "mo":
		return now.AddDate(0, -n, 0), nil
	}
	return now.AddDate(-n, 0, 0), nil
}

// Validate checks the policies: names unique and set, periods that
// parse, at least one selector each.
func (s Settings) Validate() error {
	seen := map[string]bool{}
	for i, p := range s.Policies {
		if p.Name == "" {
			return fmt.Errorf("retention policy %d has no name", i+1)
		}
		if seen[p.Name] {
			return fmt.Errorf("two retention policies are named %q", p.Name)
		}
		seen[p.Name] = true
		if p.TargetType == "" && p.Source == "" && p.Classification == "" {
			return fmt.Errorf("retention policy %q selects every record: give target_type, source or classification", p.Name)
		}
		if p.TargetType != "" && !audit.TargetType(p.TargetType).Valid() {
			return fmt.Errorf("retention policy %q: unknown target_type %q", p.Name, p.TargetType)
		}
		if _, err := p.Cutoff(time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// fields are what deciding a record's fate reads of its stored body.
type fields struct {
	timestamp                                              time.Time
	id, target, targetType, source, classification, action string
}

var errNotRecord = errors.New("the stored body is not a record")

func readFields(body []byte) (fields, error) {
	var f fields
	var ts string
	var bad error
	str := func(raw []byte) string {
		if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			bad = errNotRecord
		}
		return s
	}
	err := ledger.Members(body, func(key, raw []byte) {
		switch string(key) {
		case "timestamp":
			ts = str(raw)
		case "target":
			f.target = str(raw)
		case "target_type":
			f.targetType = str(raw)
		case "source":
			f.source = str(raw)
		case "classification":
			f.classification = str(raw)
		case "action":
			f.action = str(raw)
		case "record_id":
			f.id = str(raw)
		}
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return f, err
	}
	if f.timestamp, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return f, fmt.Errorf("timestamp %q: %w", ts, err)
	}
	return f, nil
}

// Decision is what the policies say about one stored record.
type Decision struct {
	Seq      uint64
	RecordID string
	// Policy governs the record (nil: none matches, kept for ever).
	Policy *Policy
	// Expired: the policy no longer keeps it.
	Expired bool
	// Hold is the legal hold that keeps it although it expired.
	Hold *Hold
	// Pruned: retention already removed its body.
	Pruned bool
}

// Evaluator decides records' fates at one moment.
type Evaluator struct {
	policies []Policy
	cutoffs  []time.Time
	holds    []Hold
	// Now is the moment the policies are evaluated at.
	Now time.Time
}

// NewEvaluator checks the settings and computes each policy's cutoff at
// now.
func NewEvaluator(s Settings, holds []Hold, now time.Time) (*Evaluator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e := &Evaluator{policies: s.Policies, holds: holds, Now: now.UTC()}
	for _, p := range s.Policies {
		c, _ := p.Cutoff(now)
		e.cutoffs = append(e.cutoffs, c)
	}
	return e, nil
}

// Policies are the evaluator's policies, with their cutoffs.
func (e *Evaluator) Policies() ([]Policy, []time.Time) { return e.policies, e.cutoffs }

// Decide says what the policies and holds make of a stored row.
func (e *Evaluator) Decide(r *ledger.RawRecord) (Decision, error) {
	d := Decision{Seq: r.Seq}
	if r.Pruned != nil || len(r.Body) == 0 {
		d.Pruned = true
		return d, nil
	}
	f, err := readFields(r.Body)
	if err != nil {
		return d, fmt.Errorf("record %d: %w", r.Seq, err)
	}
	return e.decide(d, f), nil
}

// Keeps reports whether the policies keep a record not appended yet: a
// collector drops a record they would prune at once (a commit older than
// the git policy, say), so that a run after 'retention apply' does not
// record again what was pruned, and appends nothing new for it. Legal
// holds on targets count; holds on sequence ranges cover only records
// already in the trail.
func (e *Evaluator) Keeps(r *audit.Record) bool {
	f := fields{timestamp: r.Timestamp, id: r.RecordID, target: r.Target, targetType: string(r.TargetType),
		source: r.Source, classification: r.Classification, action: r.Action}
	if f.classification == "" {
		f.classification = audit.ClassInternal
	}
	d := e.decide(Decision{Seq: ^uint64(0), RecordID: r.RecordID}, f)
	return !d.Prunable()
}

func (e *Evaluator) decide(d Decision, f fields) Decision {
	d.RecordID = f.id
	if f.source == audit.SourceTrail && slices.Contains(audit.ForgettingActions, f.action) {
		return d // explains what the trail forgot: kept for ever
	}
	best := -1
	for i, p := range e.policies {
		if (p.TargetType != "" && p.TargetType != f.targetType) || (p.Source != "" && p.Source != f.source) ||
			(p.Classification != "" && p.Classification != f.classification) {
			continue
		}
		if best < 0 || e.cutoffs[i].Before(e.cutoffs[best]) {
			best = i
		}
	}
	if best < 0 {
		return d
	}
	d.Policy = &e.policies[best]
	d.Expired = f.timestamp.Before(e.cutoffs[best])
	if d.Expired {
		for i := range e.holds {
			if e.holds[i].Covers(d.Seq, f.target) {
				d.Hold = &e.holds[i]
				break
			}
		}
	}
	return d
}

// Prunable reports whether retention removes the record now.
func (d Decision) Prunable() bool { return d.Expired && d.Hold == nil && !d.Pruned }

// Overdue yields the records of s kept longer than their policy allows at
// now: expired, not pruned, and not under a legal hold — what 'retention
// apply' would prune. The compliance analyzer reports them. Memory stays
// flat: rows are read in order, a block at a time.
func Overdue(ctx context.Context, s interface {
	ledger.RawScanner
	audit.Store
}, settings Settings, now time.Time) iter.Seq2[Decision, error] {
	return func(yield func(Decision, error) bool) {
		holds, err := Holds(ctx, s)
		if err != nil {
			yield(Decision{}, err)
			return
		}
		e, err := NewEvaluator(settings, holds, now)
		if err != nil {
			yield(Decision{}, err)
			return
		}
		head, err := s.Head(ctx)
		if err != nil {
			yield(Decision{}, err)
			return
		}
		stop := errors.New("stop")
		err = s.ScanRaw(ctx, 0, head.Size, func(r *ledger.RawRecord) error {
			d, err := e.Decide(r)
			if err != nil {
				return err
			}
			if d.Prunable() && !yield(d, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			yield(Decision{}, err)
		}
	}
}
