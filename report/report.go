// Package report is the document model every report format renders: a
// title, the integrity of the trail it reports on, a summary of key
// figures, titled sections holding a table or a chart, a compliance
// assessment, and optionally the records themselves. Commands build a
// Report from what they collected (or, for 'report', from the stored
// trail: package report/trailreport); a Formatter (one package per format
// under report/) writes it.
//
// Every report opens with its Integrity: the trail's origin, tree size
// and root, the latest signed checkpoint, the log key's fingerprint, and
// the result of verifying the range of records the report covers.
package report

import (
	"io"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/compliance"
)

// Report is one document.
type Report struct {
	Title     string    `json:"title"`
	Generated time.Time `json:"generated"`
	// Integrity is what verification established about the trail the
	// report is about; every format shows it first.
	Integrity *Integrity `json:"integrity,omitempty"`
	// Period bounds the records reported on, when the report is of a
	// period.
	Period *Period `json:"period,omitempty"`
	// Summary holds the headline figures, in order.
	Summary []Item `json:"summary,omitempty"`
	// Sections hold the details, in order.
	Sections []Section `json:"sections,omitempty"`
	// Records are the records the report is about, when the reader needs
	// them (machine formats); human formats may leave them out.
	Records []*audit.Record `json:"records,omitempty"`
	// Findings are the finding records (see package analyzer) the report
	// is about, most severe first: machine formats carry them and the
	// SARIF format is made of them; human formats show them through
	// sections.
	Findings []*audit.Record `json:"findings,omitempty"`
	// Compliance is the assessment of the trail against control catalogs,
	// when the report holds one.
	Compliance *compliance.Assessment `json:"compliance,omitempty"`
	// Warnings are problems met while collecting that did not stop it.
	Warnings []string `json:"warnings,omitempty"`
}

// Integrity is what verification established about a trail: its
// identity, its tree, the latest signed checkpoint, and whether the
// records the report covers verify.
type Integrity struct {
	Origin string `json:"origin"`
	LogID  string `json:"log_id"`
	Store  string `json:"store,omitempty"`
	// TreeSize and Root describe the trail's Merkle tree (Root in
	// base64, as checkpoints write it).
	TreeSize uint64 `json:"tree_size"`
	Root     string `json:"root,omitempty"`
	// Checkpoint is the latest tree head signed by the log key, as a C2SP
	// signed note; CheckpointSize its size.
	Checkpoint     string `json:"checkpoint,omitempty"`
	CheckpointSize uint64 `json:"checkpoint_size"`
	// KeyFingerprint names the log key (empty for an unsigned trail).
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	Signed         bool   `json:"signed"`
	// Range is the records whose verification Verified reports.
	Range Range `json:"range"`
	// Verified: every record of Range verified at VerifiedAt. Result says
	// what was checked, or what failed; Failure names the first record
	// that failed.
	Verified   bool      `json:"verified"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	Result     string    `json:"result"`
	Failure    *Failure  `json:"failure,omitempty"`
}

// Range is a range of sequence numbers, From inclusive, To exclusive.
type Range struct {
	From uint64 `json:"from_sequence"`
	To   uint64 `json:"to_sequence"`
}

// Failure names the record where verification failed.
type Failure struct {
	Sequence uint64 `json:"sequence"`
	RecordID string `json:"record_id,omitempty"`
	Reason   string `json:"reason"`
}

// Period bounds a report by record time; a zero bound is open.
type Period struct {
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

// Item is one labelled figure.
type Item struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Section is a titled table, a chart, or both.
type Section struct {
	Title   string     `json:"title"`
	Text    string     `json:"text,omitempty"`
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	Chart   *Chart     `json:"chart,omitempty"`
}

// ChartKind names how a chart is drawn.
type ChartKind string

// Chart kinds.
const (
	ChartBar  ChartKind = "bar"
	ChartLine ChartKind = "line"
)

// Chart is a series of labelled values.
type Chart struct {
	Kind   ChartKind `json:"kind"`
	Labels []string  `json:"labels"`
	Values []float64 `json:"values"`
	Unit   string    `json:"unit,omitempty"`
}

// Formatter writes a report in one format.
type Formatter interface {
	Format(w io.Writer, r *Report) error
}

// FileFormatter is implemented by formats that write a report as several
// files when it goes to a file (CSV: one table per file): the main file
// to main, each other to the writer create returns for its name.
type FileFormatter interface {
	Formatter
	FormatFiles(main io.Writer, r *Report, create func(name string) (io.Writer, error)) error
}
