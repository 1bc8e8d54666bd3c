package compliance

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/retention"
)

//go:embed catalogs/*.yaml
var builtin embed.FS

// Catalog is one framework's controls, as a data file (catalogs/*.yaml).
type Catalog struct {
	// ID names the catalog on the command line (--framework=iso27001).
	ID string `yaml:"id" json:"id"`
	// Framework is the framework's name and Edition the edition the
	// control ids come from ("ISO/IEC 27001", "2022").
	Framework string `yaml:"framework" json:"framework"`
	Edition   string `yaml:"edition" json:"edition"`
	// Title is how reports name the catalog.
	Title string `yaml:"title" json:"title"`
	// Description says, in our own words, what the catalog covers.
	Description string `yaml:"description" json:"description,omitempty"`
	// Supersedes names the catalog of the edition this one replaces;
	// its controls' Replaces lists give the correspondence.
	Supersedes string    `yaml:"supersedes,omitempty" json:"supersedes,omitempty"`
	Controls   []Control `yaml:"controls" json:"controls"`
}

// Control is one control and the evidence that satisfies it.
type Control struct {
	// ID and Title are the framework's own (cited, not paraphrased).
	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"`
	// Description says in our own words what the control asks for and
	// how the trail evidences it.
	Description string `yaml:"description" json:"description"`
	// Features are the rows of the specification's mapping table (SPEC
	// §12) that map to this control: "audit trail", "provenance",
	// "verification", "retention".
	Features []string `yaml:"features,omitempty" json:"features,omitempty"`
	// Replaces lists the ids of the previous edition's controls that this
	// one replaces (ISO/IEC 27001:2013 → 2022); ReplacedBy the reverse.
	Replaces   []string `yaml:"replaces,omitempty" json:"replaces,omitempty"`
	ReplacedBy []string `yaml:"replaced_by,omitempty" json:"replaced_by,omitempty"`
	// Freshness is the default for requirements that give none.
	Freshness Period `yaml:"freshness,omitempty" json:"freshness,omitempty"`
	// Evidence lists what satisfies the control; every requirement must
	// be met for the control to be present.
	Evidence []Requirement `yaml:"evidence" json:"evidence"`
}

// Integrity kinds: facts about the trail itself a requirement may ask for.
const (
	// IntegrityVerified: the records of the period verify (hashes, links,
	// the tree and its signed heads).
	IntegrityVerified = "verified"
	// IntegritySigned: the log key signs the tree heads, so a signed
	// checkpoint covers every record.
	IntegritySigned = "signed"
	// IntegrityCosigned: every record older than the requirement's
	// freshness is covered by a checkpoint a trusted key co-signed (kept
	// outside the operator's reach).
	IntegrityCosigned = "cosigned"
	// IntegritySignatures: the records the requirement selects carry
	// signatures of at least Min trusted signers (their own, or a
	// co-signed checkpoint covering them).
	IntegritySignatures = "signatures"
	// IntegritySchedule: scheduled collections run, without gaps.
	IntegritySchedule = "schedule"
	// IntegrityClock: record times never go backwards beyond the
	// tolerance among records stamped at the time of recording.
	IntegrityClock = "clock"
	// IntegrityRetention: retention policies are in force and applied (no
	// record kept beyond its policy), and none keeps records shorter
	// than MinKeep.
	IntegrityRetention = "retention"
)

var integrityKinds = []string{IntegrityVerified, IntegritySigned, IntegrityCosigned, IntegritySignatures, IntegritySchedule, IntegrityClock, IntegrityRetention}

// Requirement is one piece of evidence a control needs. Exactly one of
// Records, Analyzer and Integrity is set.
type Requirement struct {
	// Text says what the evidence shows, for people.
	Text string `yaml:"text" json:"text"`
	// Records: records of the period matching the selector.
	Records *Match `yaml:"records,omitempty" json:"records,omitempty"`
	// Analyzer: the analyzer's conclusions are in the trail, and none of
	// its open findings reaches FailOn.
	Analyzer *AnalyzerCheck `yaml:"analyzer,omitempty" json:"analyzer,omitempty"`
	// Integrity: a fact about the trail itself (the Integrity* kinds).
	Integrity string `yaml:"integrity,omitempty" json:"integrity,omitempty"`
	// Select narrows the records a "signatures" requirement applies to
	// (every record of the period when nil).
	Select *Match `yaml:"select,omitempty" json:"select,omitempty"`
	// Min is the number of trusted signers a "signatures" requirement
	// asks for (1 when 0).
	Min int `yaml:"min,omitempty" json:"min,omitempty"`
	// MinKeep is the shortest retention a "retention" requirement allows
	// (for instance 6mo: EU AI Act Art. 19 and 26(6)).
	MinKeep Period `yaml:"min_keep,omitempty" json:"min_keep,omitempty"`
	// Freshness is how recent the newest evidence must be, before the
	// end of the period; the control's when empty; none when both are.
	Freshness Period `yaml:"freshness,omitempty" json:"freshness,omitempty"`
}

// Match selects records: each list that is set must contain the record's
// value. Min is the number of records needed (1 when 0).
type Match struct {
	Actions     []string `yaml:"actions,omitempty" json:"actions,omitempty"`
	Sources     []string `yaml:"sources,omitempty" json:"sources,omitempty"`
	TargetTypes []string `yaml:"target_types,omitempty" json:"target_types,omitempty"`
	Min         int      `yaml:"min,omitempty" json:"min,omitempty"`
}

// Matches reports whether r is selected.
func (m *Match) Matches(r *audit.Record) bool {
	if m == nil {
		return true
	}
	return (len(m.Actions) == 0 || slices.Contains(m.Actions, r.Action)) &&
		(len(m.Sources) == 0 || slices.Contains(m.Sources, r.Source)) &&
		(len(m.TargetTypes) == 0 || slices.Contains(m.TargetTypes, string(r.TargetType)))
}

// Needed is the number of records the match asks for (Min, at least 1).
func (m *Match) Needed() int {
	if m == nil || m.Min <= 0 {
		return 1
	}
	return m.Min
}

// AnalyzerCheck asks for an analyzer's conclusions.
type AnalyzerCheck struct {
	// Name is the analyzer's name ("security").
	Name string `yaml:"name" json:"name"`
	// FailOn: an open finding of at least this severity fails the
	// control (a policy violation). Empty: findings do not fail it.
	FailOn audit.Severity `yaml:"fail_on,omitempty" json:"fail_on,omitempty"`
}

// Period is a length of time written as retention policies write theirs:
// a number and a unit, h, d, w, mo or y ("24h", "7d", "6mo").
type Period string

var periodPattern = regexp.MustCompile(`^([0-9]{1,6})(h|d|w|mo|y)$`)

// Valid reports whether p parses.
func (p Period) Valid() bool { return periodPattern.MatchString(string(p)) }

// Before is the time p before t (calendar months and years).
func (p Period) Before(t time.Time) time.Time {
	c, err := retention.Policy{Name: "period", Keep: string(p)}.Cutoff(t)
	if err != nil {
		return t
	}
	return c
}

// Shorter reports whether p is shorter than q, measured back from t.
func (p Period) Shorter(q Period, t time.Time) bool { return p.Before(t).After(q.Before(t)) }

// ErrCatalog is wrapped by every error about a catalog file.
var ErrCatalog = errors.New("invalid control catalog")

// Builtin returns the catalogs shipped in the binary, ordered by id.
func Builtin() ([]*Catalog, error) {
	return loadFS(builtin, "catalogs")
}

// Load returns the built-in catalogs with those of dirs laid over them:
// each *.yaml file of a directory is a catalog, which replaces the
// built-in catalog of the same id or adds a new one. Later directories
// win. Catalogs are ordered by id.
func Load(dirs ...string) ([]*Catalog, error) {
	cats, err := Builtin()
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("catalog directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("catalog directory %s: not a directory", dir)
		}
		more, err := loadFS(os.DirFS(dir), ".")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		for _, c := range more {
			if i := slices.IndexFunc(cats, func(x *Catalog) bool { return x.ID == c.ID }); i >= 0 {
				cats[i] = c
			} else {
				cats = append(cats, c)
			}
		}
	}
	slices.SortFunc(cats, func(a, b *Catalog) int { return strings.Compare(a.ID, b.ID) })
	return cats, nil
}

// Select returns the catalogs named by ids (all when ids is empty), in the
// order given. An unknown id is an error listing the known ones.
func Select(cats []*Catalog, ids []string) ([]*Catalog, error) {
	if len(ids) == 0 {
		return cats, nil
	}
	var out []*Catalog
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		i := slices.IndexFunc(cats, func(c *Catalog) bool { return c.ID == id })
		if i < 0 {
			var known []string
			for _, c := range cats {
				known = append(known, c.ID)
			}
			return nil, fmt.Errorf("unknown framework %q (known: %s)", id, strings.Join(known, ", "))
		}
		if !slices.Contains(out, cats[i]) {
			out = append(out, cats[i])
		}
	}
	return out, nil
}

func loadFS(fsys fs.FS, dir string) ([]*Catalog, error) {
	names, err := fs.Glob(fsys, pathJoin(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*Catalog
	seen := map[string]string{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		c, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
		}
		if prev, dup := seen[c.ID]; dup {
			return nil, fmt.Errorf("%w: %s and %s both define catalog %q", ErrCatalog, prev, filepath.Base(name), c.ID)
		}
		seen[c.ID] = filepath.Base(name)
		out = append(out, c)
	}
	return out, nil
}

func pathJoin(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

var catalogID = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,63}$`)

// Parse reads one catalog file: unknown fields are refused, so a
// misspelt requirement never silently counts as met.
func Parse(b []byte) (*Catalog, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCatalog, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks a catalog: ids, titles, and that every requirement asks
// for exactly one kind of evidence that exists.
func (c *Catalog) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCatalog, fmt.Sprintf(format, args...))
	}
	if !catalogID.MatchString(c.ID) {
		return fail("id %q: want lower-case letters, digits, '.' and '-'", c.ID)
	}
	if c.Title == "" || c.Framework == "" {
		return fail("catalog %s: title and framework are required", c.ID)
	}
	if len(c.Controls) == 0 {
		return fail("catalog %s has no controls", c.ID)
	}
	seen := map[string]bool{}
	for _, ctl := range c.Controls {
		where := c.ID + " " + ctl.ID
		switch {
		case ctl.ID == "" || ctl.Title == "":
			return fail("catalog %s: a control without id or title", c.ID)
		case seen[ctl.ID]:
			return fail("%s: the control is given twice", where)
		case len(ctl.Evidence) == 0:
			return fail("%s: no evidence is given", where)
		case ctl.Freshness != "" && !ctl.Freshness.Valid():
			return fail("%s: freshness %q: want a number and h, d, w, mo or y", where, ctl.Freshness)
		}
		seen[ctl.ID] = true
		for i, r := range ctl.Evidence {
			if err := r.validate(); err != nil {
				return fail("%s, evidence %d: %v", where, i+1, err)
			}
		}
	}
	return nil
}

func (r Requirement) validate() error {
	n := 0
	if r.Records != nil {
		n++
	}
	if r.Analyzer != nil {
		n++
		if r.Analyzer.Name == "" {
			return errors.New("analyzer without a name")
		}
		if r.Analyzer.FailOn != "" && !r.Analyzer.FailOn.Valid() {
			return fmt.Errorf("fail_on %q is not a severity", r.Analyzer.FailOn)
		}
	}
	if r.Integrity != "" {
		n++
		if !slices.Contains(integrityKinds, r.Integrity) {
			return fmt.Errorf("integrity %q: want one of %s", r.Integrity, strings.Join(integrityKinds, ", "))
		}
	}
	switch {
	case n != 1:
		return errors.New("give exactly one of records, analyzer and integrity")
	case r.Text == "":
		return errors.New("text is required: say what the evidence shows")
	case r.Freshness != "" && !r.Freshness.Valid():
		return fmt.Errorf("freshness %q: want a number and h, d, w, mo or y", r.Freshness)
	case r.MinKeep != "" && !r.MinKeep.Valid():
		return fmt.Errorf("min_keep %q: want a number and h, d, w, mo or y", r.MinKeep)
	case r.Select != nil && r.Integrity != IntegritySignatures:
		return errors.New("select applies to integrity: signatures only")
	case r.MinKeep != "" && r.Integrity != IntegrityRetention:
		return errors.New("min_keep applies to integrity: retention only")
	}
	return nil
}

// Feature rows of the specification's mapping table (SPEC §12).
var Features = []string{"audit trail", "provenance", "verification", "retention"}
