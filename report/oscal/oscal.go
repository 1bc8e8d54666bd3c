// Package oscal writes a report's compliance assessment as an OSCAL 1.1
// assessment-results document (JSON): one result for the period, the
// controls reviewed, one observation per evidence record (and per gap in
// the trail), and one finding per control whose target status says
// whether the control is satisfied.
//
// No maintained Go library for OSCAL is available from the module proxy,
// so the types below are written from the official OSCAL 1.1.2
// assessment-results JSON schema (json/schema/oscal_assessment-results_schema.json
// of the usnistgov/OSCAL release), holding the members this format uses.
//
// Identifiers: OSCAL tokens cannot hold spaces or start with a digit, so a
// control is named FRAMEWORK_CONTROL in lower case with spaces as '-'
// ("iso27001_a.8.15", "eu-ai-act_art.-12"); its own id is kept in a
// property. UUIDs are version 5, derived from the trail's log id and what
// they name, so the same assessment gives the same document.
package oscal

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/internal/version"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/internal/tabular"
)

// Version is the OSCAL version written.
const Version = "1.1.2"

// NS is the namespace of ami-audit's properties.
const NS = "https://github.com/ami-orchestrator/ami-audit/ns/oscal"

// Document is the root of an assessment-results document.
type Document struct {
	AssessmentResults AssessmentResults `json:"assessment-results"`
}

// AssessmentResults is the assessment-results assembly.
type AssessmentResults struct {
	UUID     string   `json:"uuid"`
	Metadata Metadata `json:"metadata"`
	ImportAP ImportAP `json:"import-ap"`
	Results  []Result `json:"results"`
}

// Metadata is the document's metadata.
type Metadata struct {
	Title        string     `json:"title"`
	LastModified string     `json:"last-modified"`
	Version      string     `json:"version"`
	OSCALVersion string     `json:"oscal-version"`
	Props        []Property `json:"props,omitempty"`
	Remarks      string     `json:"remarks,omitempty"`
}

// ImportAP points at the assessment plan.
type ImportAP struct {
	Href    string `json:"href"`
	Remarks string `json:"remarks,omitempty"`
}

// Property is a name/value pair.
type Property struct {
	Name  string `json:"name"`
	NS    string `json:"ns,omitempty"`
	Value string `json:"value"`
}

// Result is one set of results.
type Result struct {
	UUID             string           `json:"uuid"`
	Title            string           `json:"title"`
	Description      string           `json:"description"`
	Start            string           `json:"start"`
	End              string           `json:"end,omitempty"`
	Props            []Property       `json:"props,omitempty"`
	ReviewedControls ReviewedControls `json:"reviewed-controls"`
	Observations     []Observation    `json:"observations,omitempty"`
	Findings         []Finding        `json:"findings,omitempty"`
	Remarks          string           `json:"remarks,omitempty"`
}

// ReviewedControls are the controls the result covers.
type ReviewedControls struct {
	ControlSelections []ControlSelection `json:"control-selections"`
}

// ControlSelection selects controls.
type ControlSelection struct {
	Description     string              `json:"description,omitempty"`
	IncludeControls []SelectControlByID `json:"include-controls,omitempty"`
}

// SelectControlByID names a control.
type SelectControlByID struct {
	ControlID string `json:"control-id"`
}

// Observation is one observation.
type Observation struct {
	UUID             string             `json:"uuid"`
	Title            string             `json:"title,omitempty"`
	Description      string             `json:"description"`
	Props            []Property         `json:"props,omitempty"`
	Methods          []string           `json:"methods"`
	Types            []string           `json:"types,omitempty"`
	RelevantEvidence []RelevantEvidence `json:"relevant-evidence,omitempty"`
	Collected        string             `json:"collected"`
}

// RelevantEvidence points at evidence.
type RelevantEvidence struct {
	Href        string     `json:"href,omitempty"`
	Description string     `json:"description"`
	Props       []Property `json:"props,omitempty"`
}

// Finding is one finding.
type Finding struct {
	UUID                string               `json:"uuid"`
	Title               string               `json:"title"`
	Description         string               `json:"description"`
	Props               []Property           `json:"props,omitempty"`
	Target              FindingTarget        `json:"target"`
	RelatedObservations []RelatedObservation `json:"related-observations,omitempty"`
}

// FindingTarget is what a finding is about and its status.
type FindingTarget struct {
	Type        string          `json:"type"`
	TargetID    string          `json:"target-id"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	Props       []Property      `json:"props,omitempty"`
	Status      ObjectiveStatus `json:"status"`
}

// ObjectiveStatus says whether the objective is satisfied.
type ObjectiveStatus struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// RelatedObservation refers to an observation.
type RelatedObservation struct {
	ObservationUUID string `json:"observation-uuid"`
}

// Formatter writes OSCAL.
type Formatter struct{}

// New returns the OSCAL formatter.
func New() Formatter { return Formatter{} }

// Format writes r's assessment as an OSCAL assessment-results document.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	d, err := Build(r)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("oscal report: %w", err)
	}
	return nil
}

var notToken = regexp.MustCompile(`[^\p{L}\p{N}._-]+`)

// ControlToken is the OSCAL token naming a control of a framework.
func ControlToken(framework, control string) string {
	t := strings.ToLower(framework + "_" + strings.ReplaceAll(strings.TrimSpace(control), " ", "-"))
	return notToken.ReplaceAllString(t, "-")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func prop(name, value string) Property { return Property{Name: name, NS: NS, Value: value} }

// Build makes the document of r.
func Build(r *report.Report) (*Document, error) {
	a := r.Compliance
	if a == nil {
		// A report without an assessment (a collection's) reviewed no
		// control: the result says so.
		until := r.Generated
		if until.IsZero() {
			until = time.Unix(0, 0)
		}
		a = &compliance.Assessment{Until: until.UTC()}
	}
	space := uuid.NewSHA1(uuid.NameSpaceURL, []byte("ami-audit:"))
	if in := r.Integrity; in != nil {
		space = uuid.NewSHA1(uuid.NameSpaceURL, []byte("ami-audit:"+in.LogID))
	}
	id := func(parts ...string) string {
		return uuid.NewSHA1(space, []byte(strings.Join(parts, "\x00"))).String()
	}
	generated := r.Generated
	if generated.IsZero() {
		generated = a.Until
	}
	md := Metadata{Title: r.Title, LastModified: stamp(generated), Version: version.Read().String(), OSCALVersion: Version}
	res := Result{UUID: id("result", stamp(a.Until)), Title: "Compliance of the audit trail",
		Description: fmt.Sprintf("Controls assessed by ami-audit from the records of the trail (%d records of the period) and the trail's own integrity.", a.Records),
		Start:       stamp(cmpTime(a.Since, firstTime(r))), End: stamp(a.Until)}
	if in := r.Integrity; in != nil {
		md.Props = append(md.Props, prop("log-origin", in.Origin), prop("log-id", in.LogID))
		res.Props = append(res.Props,
			prop("tree-size", fmt.Sprint(in.TreeSize)), prop("merkle-root", nonEmpty(in.Root)),
			prop("verified", fmt.Sprint(in.Verified)), prop("verified-range", tabular.RangeText(in.Range)))
		if in.KeyFingerprint != "" {
			res.Props = append(res.Props, prop("log-key", in.KeyFingerprint))
		}
		if in.Checkpoint != "" {
			res.Props = append(res.Props, prop("checkpoint-size", fmt.Sprint(in.CheckpointSize)))
		}
		res.Remarks = "Integrity: " + tabular.VerifiedText(in) + ". " + in.Result
	}
	md.Remarks = "Written by ami-audit. Evidence records are cited by record_id; an evidence packet ('ami-audit report --export packet') holds them with their inclusion proofs."

	// One observation per evidence record, once however many controls
	// cite it, and one per gap.
	obs := map[string]string{} // record id or gap key → observation uuid
	addRecord := func(e compliance.Evidence) string {
		if u, ok := obs[e.RecordID]; ok {
			return u
		}
		u := id("record", e.RecordID)
		obs[e.RecordID] = u
		res.Observations = append(res.Observations, Observation{UUID: u,
			Title:       fmt.Sprintf("Record %d: %s", e.Sequence, e.Action),
			Description: fmt.Sprintf("Trail record %d (%s): %s of %s, from %s, severity %s.", e.Sequence, e.RecordID, e.Action, nonEmpty(e.Target), nonEmpty(e.Source), e.Severity),
			Props:       []Property{prop("record-id", e.RecordID), prop("sequence", fmt.Sprint(e.Sequence)), prop("action", e.Action), prop("source", nonEmpty(e.Source))},
			Methods:     []string{"EXAMINE"}, Types: []string{"control-objective"},
			RelevantEvidence: []RelevantEvidence{{Href: "records.jsonl#" + e.RecordID,
				Description: fmt.Sprintf("the record %s in the trail (records.jsonl of an evidence packet)", e.RecordID)}},
			Collected: stamp(e.Timestamp)})
		return u
	}
	for _, g := range a.Gaps {
		u := id("gap", g.Key)
		obs["gap:"+g.Key] = u
		collected := g.Start
		if collected.IsZero() {
			collected = a.Until
		}
		res.Observations = append(res.Observations, Observation{UUID: u, Title: g.Title,
			Description: fmt.Sprintf("Gap in the trail (%s, %s): %s", g.Kind, g.Severity, g.Detail),
			Props:       []Property{prop("gap-kind", g.Kind), prop("gap-key", g.Key), prop("severity", string(g.Severity))},
			Methods:     []string{"TEST"}, Types: []string{"finding"}, Collected: stamp(collected)})
	}
	sel := ControlSelection{Description: "The controls of the catalogs assessed."}
	for _, f := range a.Frameworks {
		for _, c := range f.Controls {
			tok := ControlToken(f.ID, c.ID)
			sel.IncludeControls = append(sel.IncludeControls, SelectControlByID{ControlID: tok})
			state, reason := "not-satisfied", "fail"
			if c.Status == compliance.Present {
				state, reason = "satisfied", "pass"
			}
			fd := Finding{UUID: id("finding", f.ID, c.ID), Title: fmt.Sprintf("%s %s %s", f.Title, c.ID, c.Title),
				Description: findingText(c),
				Props:       []Property{prop("framework", f.ID), prop("control", c.ID), prop("evidence-status", string(c.Status))},
				Target: FindingTarget{Type: "objective-id", TargetID: tok, Title: c.ID + " " + c.Title,
					Description: nonEmpty(c.Description), Status: ObjectiveStatus{State: state, Reason: reason}}}
			seen := map[string]bool{}
			for _, req := range c.Evidence {
				var us []string
				for _, e := range req.Records {
					us = append(us, addRecord(e))
				}
				for _, k := range req.Gaps {
					if u, ok := obs["gap:"+k]; ok {
						us = append(us, u)
					}
				}
				for _, u := range us {
					if !seen[u] {
						seen[u] = true
						fd.RelatedObservations = append(fd.RelatedObservations, RelatedObservation{ObservationUUID: u})
					}
				}
			}
			res.Findings = append(res.Findings, fd)
		}
	}
	if len(sel.IncludeControls) == 0 {
		sel.Description = "No control was assessed: the report holds no compliance assessment ('ami-audit report --format=oscal' makes one)."
	}
	res.ReviewedControls = ReviewedControls{ControlSelections: []ControlSelection{sel}}
	return &Document{AssessmentResults: AssessmentResults{UUID: id("assessment-results", stamp(a.Until)), Metadata: md,
		ImportAP: ImportAP{Href: "#ami-audit-catalogs", Remarks: "No OSCAL assessment plan: the controls and their evidence come from ami-audit's catalogs (ami-audit compliance --list)."},
		Results:  []Result{res}}}, nil
}

func findingText(c compliance.ControlResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Evidence %s.", c.Status)
	for _, r := range c.Evidence {
		fmt.Fprintf(&b, " [%s] %s: %s.", r.Status, r.Text, r.Detail)
	}
	return b.String()
}

func nonEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmpTime(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}

// firstTime is the start of a report with an open period: the oldest
// record's time when the report says it, else the generation time.
func firstTime(r *report.Report) time.Time {
	for _, it := range r.Summary {
		if it.Label == "Oldest record" {
			if t, err := time.Parse(time.RFC3339, it.Value); err == nil {
				return t
			}
		}
	}
	if r.Compliance != nil {
		return r.Compliance.Until
	}
	return r.Generated
}
