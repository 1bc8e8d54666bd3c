package compliance

import (
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Status is how far evidence satisfies a control or a requirement.
type Status string

// Statuses, from best to worst.
const (
	// Present: every requirement is met.
	Present Status = "present"
	// Partial: some evidence is there, but not all, or not fresh enough.
	Partial Status = "partial"
	// Missing: no evidence at all.
	Missing Status = "missing"
	// Failed: the evidence contradicts the control — a policy violation
	// (an open critical finding), records that do not verify, a
	// retention policy shorter than the control allows.
	Failed Status = "failed"
)

// Statuses lists the statuses in their order.
var Statuses = []Status{Present, Partial, Missing, Failed}

// Assessment is the compliance of a trail over a period: each catalog's
// controls with their evidence, the gaps in the trail itself and the
// policy violations found in other analyzers' findings.
type Assessment struct {
	// Since and Until bound the period (Until is the time the assessment
	// is made as of); Since is zero for "from the start".
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until"`
	// Records is the number of records of the period that were examined.
	Records uint64 `json:"records"`
	// Totals count controls by status over every framework.
	Totals     Totals            `json:"totals"`
	Frameworks []FrameworkResult `json:"frameworks"`
	// Gaps are the gaps in the trail itself.
	Gaps []Gap `json:"gaps"`
	// Violations are open findings of other analyzers that fail a
	// control.
	Violations []Violation `json:"violations"`
}

// Totals count controls by status.
type Totals struct {
	Controls int `json:"controls"`
	Present  int `json:"present"`
	Partial  int `json:"partial"`
	Missing  int `json:"missing"`
	Failed   int `json:"failed"`
}

// Add counts a control of status s.
func (t *Totals) Add(s Status) {
	t.Controls++
	switch s {
	case Present:
		t.Present++
	case Partial:
		t.Partial++
	case Missing:
		t.Missing++
	case Failed:
		t.Failed++
	}
}

// FrameworkResult is one catalog assessed.
type FrameworkResult struct {
	ID         string          `json:"id"`
	Framework  string          `json:"framework"`
	Edition    string          `json:"edition"`
	Title      string          `json:"title"`
	Supersedes string          `json:"supersedes,omitempty"`
	Totals     Totals          `json:"totals"`
	Controls   []ControlResult `json:"controls"`
}

// ControlResult is one control assessed.
type ControlResult struct {
	ID          string              `json:"id"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	Features    []string            `json:"features,omitempty"`
	Replaces    []string            `json:"replaces,omitempty"`
	ReplacedBy  []string            `json:"replaced_by,omitempty"`
	Status      Status              `json:"status"`
	Evidence    []RequirementResult `json:"evidence"`
}

// RequirementResult is one requirement of a control assessed, with the
// records that are its evidence (the newest ones, up to a limit; Count
// says how many there are).
type RequirementResult struct {
	Text string `json:"text"`
	// Kind names the requirement: "records", "analyzer:security",
	// "integrity:verified", ….
	Kind      string     `json:"kind"`
	Status    Status     `json:"status"`
	Detail    string     `json:"detail"`
	Freshness Period     `json:"freshness,omitempty"`
	Count     uint64     `json:"count"`
	Newest    time.Time  `json:"newest,omitzero"`
	Records   []Evidence `json:"records,omitempty"`
	// Gaps are the keys of the gaps (Assessment.Gaps) that affect it.
	Gaps []string `json:"gaps,omitempty"`
}

// Evidence is a record that is evidence, as reports cite it.
type Evidence struct {
	Sequence  uint64         `json:"sequence"`
	RecordID  string         `json:"record_id"`
	Timestamp time.Time      `json:"timestamp"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Source    string         `json:"source"`
	Severity  audit.Severity `json:"severity"`
}

// EvidenceOf cites r.
func EvidenceOf(r *audit.Record) Evidence {
	return Evidence{Sequence: r.Sequence, RecordID: r.RecordID, Timestamp: r.Timestamp.UTC(), Action: r.Action,
		Target: r.Target, Source: r.Source, Severity: r.Severity}
}

// Gap kinds: gaps in the trail itself.
const (
	GapSchedule   = "schedule"   // expected scheduled runs without a successful run
	GapUnsigned   = "unsigned"   // records no signed tree head of the log key covers
	GapUncosigned = "uncosigned" // records no fresh co-signed checkpoint covers
	GapUnverified = "unverified" // records that do not verify
	GapSignatures = "signatures" // records without the required signatures
	GapClock      = "clock"      // record times going backwards beyond the tolerance
	GapRetention  = "retention"  // records kept longer than their policy
)

// Gap is a gap in the trail itself. Key identifies it across runs (the
// compliance analyzer's finding key); it does not change as the trail
// grows past the gap.
type Gap struct {
	Key      string         `json:"key"`
	Kind     string         `json:"kind"`
	Severity audit.Severity `json:"severity"`
	Title    string         `json:"title"`
	Detail   string         `json:"detail"`
	// From and To are the sequences of the records concerned (To
	// exclusive), when the gap is a span of records.
	From *uint64 `json:"from_sequence,omitempty"`
	To   *uint64 `json:"to_sequence,omitempty"`
	// Start and End are the times concerned, when the gap is a span of
	// time.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Count is how many records or expected runs the gap holds.
	Count uint64 `json:"count"`
	// Records cite the records the gap is about (a few).
	Records []Evidence `json:"records,omitempty"`
}

// Violation is an open finding of another analyzer that fails a control.
type Violation struct {
	Framework string         `json:"framework"`
	Control   string         `json:"control"`
	Analyzer  string         `json:"analyzer"`
	Severity  audit.Severity `json:"severity"`
	Target    string         `json:"target"`
	Finding   string         `json:"finding"`
	Record    Evidence       `json:"record"`
}

// Control returns the result of the control id of the framework, or nil.
func (a *Assessment) Control(framework, id string) *ControlResult {
	for i := range a.Frameworks {
		if a.Frameworks[i].ID != framework {
			continue
		}
		for j := range a.Frameworks[i].Controls {
			if a.Frameworks[i].Controls[j].ID == id {
				return &a.Frameworks[i].Controls[j]
			}
		}
	}
	return nil
}

// GapsOf returns the gaps of one kind.
func (a *Assessment) GapsOf(kind string) []Gap {
	var out []Gap
	for _, g := range a.Gaps {
		if g.Kind == kind {
			out = append(out, g)
		}
	}
	return out
}
