// Package assess judges a trail against control catalogs (package
// compliance): Assess reads the records of a period once, in sequence
// order and flat memory, and the facts FactsOf establishes by checking
// the trail itself (verification, signed and co-signed checkpoints,
// trusted signatures, retention, schedules), and returns the
// compliance.Assessment reports and the compliance analyzer use.
//
// The gaps it finds in the trail itself:
//
//   - schedule: times a scheduled job was due (from its cron expression,
//     in the trail's settings or its run records) without a successful
//     scheduled_run record; consecutive ones are one gap;
//   - unsigned: records no tree head signed by the log key covers;
//   - uncosigned: records past the newest checkpoint a trusted key
//     co-signed, when that co-signature is older than the catalogs ask
//     (a checkpoint held outside the operator's reach is what protects a
//     log against a rewrite by its own operator);
//   - unverified: records from the first that fails verification on;
//   - signatures: records without the trusted signers a requirement asks
//     for (their own signatures, or a co-signed checkpoint covering them);
//   - clock: record times going backwards beyond a tolerance, among the
//     records stamped when they are recorded (DefaultClockSources);
//   - retention: records kept longer than their policy allows.
package assess

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/retention"
)

// Facts are what the trail's own checks established; the caller gathers
// them (FactsOf does for a trail) and Assess judges the records by them.
type Facts struct {
	// Size is the number of records in the trail.
	Size uint64
	// Verified: the whole trail verified at VerifiedAt. When it did not,
	// Failure names the first record that failed; everything from it on
	// is unverified. VerifiedAt is zero when no verification ran.
	Verified   bool
	VerifiedAt time.Time
	Failure    *ledger.ChainError
	// Signed: the log key signs the tree heads; SignedSize is the size of
	// the latest signed head.
	Signed     bool
	SignedSize uint64
	// Cosigned is the size of the largest checkpoint a trusted key
	// co-signed (0: none), and CosignedAt when that co-signature was
	// stored. Coverage says, per trusted signer, how far it vouches.
	Cosigned   uint64
	CosignedAt time.Time
	Coverage   ledger.Coverage
	// Trusted are the keys whose record signatures count.
	Trusted []note.Verifier
	// Retention: the policies in force and what they find overdue.
	Retention RetentionFacts
	// Schedules are the jobs the trail's settings schedule.
	Schedules []Job
}

// RetentionFacts are the facts about retention.
type RetentionFacts struct {
	Policies []retention.Policy
	// Overdue counts the records kept longer than their policy allows;
	// First and Last are the first and last of them.
	Overdue     uint64
	First, Last uint64
	// Checked: Overdue was established (false when it could not be).
	Checked bool
}

// Job is a scheduled collection.
type Job struct {
	Name string
	Cron string
	// Command is the command line the job runs.
	Command string
}

// Settings tune the checks of the trail itself.
type Settings struct {
	// ClockTolerance is how far a record's time may be before the time
	// of a record appended earlier (DefaultClockTolerance when 0).
	ClockTolerance time.Duration
	// ClockSources are the sources whose records are stamped when they
	// are recorded, the records clock anomalies are looked for in
	// (DefaultClockSources when nil; a name ending in "*" is a prefix,
	// one starting with "*" a suffix).
	ClockSources []string
	// Grace is how late a scheduled run may start and still be on time
	// (DefaultGrace when 0).
	Grace time.Duration
	// MaxEvidence is how many records each requirement cites
	// (DefaultMaxEvidence when 0).
	MaxEvidence int
}

// Defaults of Settings.
const (
	DefaultClockTolerance = 5 * time.Minute
	DefaultGrace          = 5 * time.Minute
	DefaultMaxEvidence    = 20
)

// DefaultClockSources are the sources that stamp records with the time
// they are recorded: the scheduler, the trail's own records, the
// analyzers, services and module snapshots. Git commits and log lines
// carry the time their event happened, which goes back and forth by
// nature.
var DefaultClockSources = []string{"schedule", audit.SourceTrail, "*_analyzer", "service_source", "module_source", "quality_source"}

// AnalyzerName is the compliance analyzer's name; its own records are
// never evidence.
const AnalyzerName = "compliance"

// Input is what Assess reads.
type Input struct {
	// Trail is read for the records of the period and the analyzers'
	// open findings.
	Trail audit.Reader
	// Catalogs are the frameworks to assess.
	Catalogs []*compliance.Catalog
	// Since and Until bound the period by record time (zero: open).
	Since, Until time.Time
	// Now is the time of the assessment (default time.Now); the end of
	// the period when Until is zero.
	Now      time.Time
	Facts    Facts
	Settings Settings
	// Complete, when set, is called after the records are read and before
	// they are judged, to complete Facts: a caller verifies the trail
	// while Assess reads the period, and fills in the outcome here.
	Complete func(*Facts) error
	// Observe, when set, is called with every record of the period Assess
	// reads (the compliance analyzer's own records included), in sequence
	// order: a report tallies the period in the same pass.
	Observe func(*audit.Record)
}

// Assess judges each control of the catalogs by the records of the period
// and the facts, finds the gaps in the trail and the policy violations.
// It reads the records of the period once, in sequence order, in memory
// independent of their number. The compliance analyzer's own records are
// not evidence.
func Assess(ctx context.Context, in Input) (*compliance.Assessment, error) {
	if in.Trail == nil {
		return nil, errors.New("compliance: no trail to read")
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	in.Now = in.Now.UTC()
	end := in.Now
	if !in.Until.IsZero() && in.Until.Before(end) {
		end = in.Until.UTC()
	}
	s := in.Settings
	if s.ClockTolerance == 0 {
		s.ClockTolerance = DefaultClockTolerance
	}
	if s.ClockSources == nil {
		s.ClockSources = DefaultClockSources
	}
	if s.Grace == 0 {
		s.Grace = DefaultGrace
	}
	if s.MaxEvidence == 0 {
		s.MaxEvidence = DefaultMaxEvidence
	}
	e := newEval(in, s, end)
	if err := e.scan(ctx); err != nil {
		return nil, err
	}
	if in.Complete != nil {
		if err := in.Complete(&e.in.Facts); err != nil {
			return nil, err
		}
	}
	if err := e.openFindings(ctx); err != nil {
		return nil, err
	}
	return e.result(), nil
}

// eval is one assessment in progress.
type eval struct {
	in  Input
	set Settings
	end time.Time

	records  uint64
	matchers map[string]*tally // by compliance.Match key
	byKind   map[kindKey][]*tally
	sigs     map[string]*sigTally
	ran      map[string]*tally // analyzer name → its records, and scheduled runs of it
	jobs     map[string]*jobRuns
	clock    clockState
	cosign   spanTally // records past the newest co-signed checkpoint
	open     map[string][]*audit.Record
	gaps     []compliance.Gap
	gapKeys  map[string]bool
}

func newEval(in Input, s Settings, end time.Time) *eval {
	e := &eval{in: in, set: s, end: end, matchers: map[string]*tally{}, byKind: map[kindKey][]*tally{}, sigs: map[string]*sigTally{},
		ran: map[string]*tally{}, jobs: map[string]*jobRuns{}, open: map[string][]*audit.Record{}, gapKeys: map[string]bool{}}
	for _, c := range in.Catalogs {
		for _, ctl := range c.Controls {
			for _, r := range ctl.Evidence {
				switch {
				case r.Records != nil:
					k := matchKey(r.Records)
					if e.matchers[k] == nil {
						e.matchers[k] = &tally{match: r.Records, max: s.MaxEvidence}
					}
				case r.Analyzer != nil:
					if e.ran[r.Analyzer.Name] == nil {
						e.ran[r.Analyzer.Name] = &tally{max: s.MaxEvidence}
					}
				case r.Integrity == compliance.IntegritySignatures:
					k := sigKey(r)
					if e.sigs[k] == nil {
						e.sigs[k] = &sigTally{match: r.Select, min: max(r.Min, 1)}
					}
				}
			}
		}
	}
	for _, j := range in.Facts.Schedules {
		e.job(j.Name).job = j
	}
	return e
}

func matchKey(m *compliance.Match) string {
	return strings.Join(m.Actions, ",") + "|" + strings.Join(m.Sources, ",") + "|" + strings.Join(m.TargetTypes, ",")
}

func sigKey(r compliance.Requirement) string {
	k := "*"
	if r.Select != nil {
		k = matchKey(r.Select)
	}
	return fmt.Sprintf("%s|%d", k, max(r.Min, 1))
}

// tally counts matching records and keeps the newest few.
type tally struct {
	match  *compliance.Match
	max    int
	count  uint64
	newest time.Time
	recent []compliance.Evidence // ring of the newest, oldest first once full
	next   int
}

func (t *tally) add(r *audit.Record) {
	t.count++
	if r.Timestamp.After(t.newest) {
		t.newest = r.Timestamp.UTC()
	}
	ev := compliance.EvidenceOf(r)
	if len(t.recent) < t.max {
		t.recent = append(t.recent, ev)
		return
	}
	t.recent[t.next] = ev
	t.next = (t.next + 1) % t.max
}

// evidence is the records kept, newest first.
func (t *tally) evidence() []compliance.Evidence {
	out := slices.Clone(t.recent)
	slices.SortFunc(out, func(a, b compliance.Evidence) int { return cmp.Compare(b.Sequence, a.Sequence) })
	return out
}

// spanTally is a set of records as its first and last and count.
type spanTally struct {
	count       uint64
	first, last *audit.Record
}

func (s *spanTally) add(r *audit.Record) {
	s.count++
	if s.first == nil {
		s.first = r
	}
	s.last = r
}

// sigTally counts the records a signatures requirement selects and those
// without enough trusted signers, as spans.
type sigTally struct {
	match    *compliance.Match
	min      int
	selected uint64
	lacking  uint64
	spans    []spanTally // consecutive lacking records (by selection order)
	inSpan   bool
}

const maxSpans = 50

func (t *sigTally) add(r *audit.Record, ok bool) {
	t.selected++
	if ok {
		t.inSpan = false
		return
	}
	t.lacking++
	if !t.inSpan && len(t.spans) < maxSpans {
		t.spans = append(t.spans, spanTally{})
		t.inSpan = true
	}
	if t.inSpan {
		t.spans[len(t.spans)-1].add(r)
	}
}

// scan reads the records of the period once.
func (e *eval) scan(ctx context.Context) error {
	f := audit.Filter{Since: e.in.Since, Until: e.in.Until, Limit: -1}
	own := analyzer.SourceName(AnalyzerName)
	cosigned := e.in.Facts.Cosigned
	for r, err := range e.in.Trail.Query(ctx, f) {
		if err != nil {
			return fmt.Errorf("read the records of the period: %w", err)
		}
		if e.in.Observe != nil {
			e.in.Observe(r)
		}
		if r.Source == own || r.Pruned != nil {
			continue
		}
		e.records++
		for _, t := range e.matching(r) {
			t.add(r)
		}
		if len(e.sigs) > 0 {
			e.signatures(r)
		}
		if name, ok := strings.CutSuffix(r.Source, "_analyzer"); ok {
			if t := e.ran[name]; t != nil {
				t.add(r)
			}
		}
		if r.Source == scheduleSource {
			e.scheduled(r)
		}
		if e.clockStamped(r.Source) {
			e.clock.add(r, e.set.ClockTolerance, e.end)
		}
		if r.Sequence >= cosigned {
			e.cosign.add(r)
		}
	}
	return nil
}

// kindKey is what a Match looks at in a record.
type kindKey struct{ action, source, targetType string }

// matching returns the tallies whose match selects r, remembered per
// kind of record (a trail has few).
func (e *eval) matching(r *audit.Record) []*tally {
	k := kindKey{r.Action, r.Source, string(r.TargetType)}
	if ts, ok := e.byKind[k]; ok {
		return ts
	}
	var ts []*tally
	for _, key := range sortedKeys(e.matchers) {
		if t := e.matchers[key]; t.match.Matches(r) {
			ts = append(ts, t)
		}
	}
	if len(e.byKind) < 100_000 {
		e.byKind[k] = ts
	}
	return ts
}

// signatures checks r against every signatures requirement that selects
// it: enough trusted signers by the record's own valid signatures and the
// co-signed checkpoints covering it.
func (e *eval) signatures(r *audit.Record) {
	var signers []string
	checked := false
	for _, t := range e.sigs {
		if !t.match.Matches(r) {
			continue
		}
		if !checked {
			signers = e.in.Facts.Coverage.Covering(r.Sequence)
			if len(r.Signatures) > 0 && len(e.in.Facts.Trusted) > 0 {
				for _, name := range ledger.CheckSignatures(r, e.in.Facts.Trusted).Valid {
					if !slices.Contains(signers, name) {
						signers = append(signers, name)
					}
				}
			}
			checked = true
		}
		t.add(r, len(signers) >= t.min)
	}
}

func (e *eval) clockStamped(source string) bool {
	for _, s := range e.set.ClockSources {
		switch {
		case strings.HasSuffix(s, "*") && strings.HasPrefix(source, strings.TrimSuffix(s, "*")),
			strings.HasPrefix(s, "*") && strings.HasSuffix(source, strings.TrimPrefix(s, "*")),
			s == source:
			return true
		}
	}
	return false
}

// openFindings reads the open findings of the analyzers the catalogs name.
func (e *eval) openFindings(ctx context.Context) error {
	for _, name := range sortedKeys(e.ran) {
		open, err := analyzer.OpenSorted(ctx, e.in.Trail, name)
		if err != nil {
			return fmt.Errorf("open findings of the %s analyzer: %w", name, err)
		}
		e.open[name] = open
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// result judges every control and collects the gaps.
func (e *eval) result() *compliance.Assessment {
	a := &compliance.Assessment{Since: e.in.Since.UTC(), Until: e.end, Records: e.records}
	if e.in.Since.IsZero() {
		a.Since = time.Time{}
	}
	e.trailGaps()
	for _, c := range e.in.Catalogs {
		fr := compliance.FrameworkResult{ID: c.ID, Framework: c.Framework, Edition: c.Edition, Title: c.Title, Supersedes: c.Supersedes}
		for _, ctl := range c.Controls {
			cr := compliance.ControlResult{ID: ctl.ID, Title: ctl.Title, Description: strings.TrimSpace(ctl.Description),
				Features: ctl.Features, Replaces: ctl.Replaces, ReplacedBy: ctl.ReplacedBy}
			for _, req := range ctl.Evidence {
				if req.Freshness == "" {
					req.Freshness = ctl.Freshness
				}
				rr := e.requirement(req)
				if rr.Status == compliance.Failed && req.Analyzer != nil {
					for _, f := range e.violating(req.Analyzer) {
						a.Violations = append(a.Violations, compliance.Violation{Framework: c.ID, Control: ctl.ID, Analyzer: req.Analyzer.Name,
							Severity: f.Severity, Target: f.Target, Finding: findingText(f), Record: compliance.EvidenceOf(f)})
					}
				}
				cr.Evidence = append(cr.Evidence, rr)
			}
			cr.Status = controlStatus(cr.Evidence)
			fr.Totals.Add(cr.Status)
			a.Totals.Add(cr.Status)
			fr.Controls = append(fr.Controls, cr)
		}
		a.Frameworks = append(a.Frameworks, fr)
	}
	a.Gaps = e.gaps
	if a.Gaps == nil {
		a.Gaps = []compliance.Gap{}
	}
	if a.Violations == nil {
		a.Violations = []compliance.Violation{}
	}
	return a
}

// controlStatus: failed when a requirement failed, present when all are
// met, missing when none has any evidence, partial otherwise.
func controlStatus(reqs []compliance.RequirementResult) compliance.Status {
	n := map[compliance.Status]int{}
	for _, r := range reqs {
		n[r.Status]++
	}
	switch {
	case n[compliance.Failed] > 0:
		return compliance.Failed
	case n[compliance.Present] == len(reqs):
		return compliance.Present
	case n[compliance.Missing] == len(reqs):
		return compliance.Missing
	}
	return compliance.Partial
}

func findingText(r *audit.Record) string {
	if len(r.Findings) > 0 {
		return r.Findings[0].Description
	}
	return r.Reason
}

// requirement judges one requirement.
func (e *eval) requirement(req compliance.Requirement) compliance.RequirementResult {
	rr := compliance.RequirementResult{Text: req.Text, Freshness: req.Freshness}
	switch {
	case req.Records != nil:
		rr.Kind = "records"
		e.recordsReq(req, e.matchers[matchKey(req.Records)], &rr)
	case req.Analyzer != nil:
		rr.Kind = "analyzer:" + req.Analyzer.Name
		e.analyzerReq(req, &rr)
	default:
		rr.Kind = "integrity:" + req.Integrity
		e.integrityReq(req, &rr)
	}
	return rr
}

func (e *eval) stale(req compliance.Requirement, newest time.Time) bool {
	return req.Freshness != "" && newest.Before(req.Freshness.Before(e.end))
}

func (e *eval) recordsReq(req compliance.Requirement, t *tally, rr *compliance.RequirementResult) {
	rr.Count, rr.Newest, rr.Records = t.count, t.newest, t.evidence()
	want := req.Records.Needed()
	switch {
	case t.count == 0:
		rr.Status, rr.Detail = compliance.Missing, "no record of the period matches"
	case t.count < uint64(want):
		rr.Status, rr.Detail = compliance.Partial, fmt.Sprintf("%s of the %d required", plural.Count(t.count, "record"), want)
	case e.stale(req, t.newest):
		rr.Status, rr.Detail = compliance.Partial, fmt.Sprintf("the newest is of %s, older than the %s required", audit.FormatTime(t.newest), req.Freshness)
	default:
		rr.Status, rr.Detail = compliance.Present, fmt.Sprintf("%s, the newest of %s", plural.Count(t.count, "record"), audit.FormatTime(t.newest))
	}
}

func (e *eval) analyzerReq(req compliance.Requirement, rr *compliance.RequirementResult) {
	name := req.Analyzer.Name
	t := e.ran[name]
	rr.Count, rr.Newest, rr.Records = t.count, t.newest, t.evidence()
	if bad := e.violating(req.Analyzer); len(bad) > 0 {
		rr.Status = compliance.Failed
		rr.Detail = fmt.Sprintf("%s of the %s analyzer %s severity %s", plural.Count(len(bad), "open finding"), name, plural.Pick(len(bad), "reaches", "reach"), req.Analyzer.FailOn)
		rr.Records = nil
		for _, f := range bad[:min(len(bad), e.set.MaxEvidence)] {
			rr.Records = append(rr.Records, compliance.EvidenceOf(f))
		}
		return
	}
	switch {
	case t.count == 0:
		rr.Status, rr.Detail = compliance.Missing, fmt.Sprintf("no record shows that the %s analyzer ran in the period (its findings or resolutions, or a successful scheduled run of it)", name)
	case e.stale(req, t.newest):
		rr.Status, rr.Detail = compliance.Partial, fmt.Sprintf("the %s analyzer last left evidence at %s, older than the %s required", name, audit.FormatTime(t.newest), req.Freshness)
	default:
		rr.Status = compliance.Present
		rr.Detail = fmt.Sprintf("%s of the %s analyzer, the newest of %s; %s", plural.Count(t.count, "record"), name, audit.FormatTime(t.newest), plural.Count(len(e.open[name]), "open finding"))
		if req.Analyzer.FailOn != "" {
			rr.Detail += ", none reaching " + string(req.Analyzer.FailOn)
		}
	}
}

// violating are the open findings of the analyzer that reach FailOn.
func (e *eval) violating(c *compliance.AnalyzerCheck) []*audit.Record {
	if c.FailOn == "" {
		return nil
	}
	var out []*audit.Record
	for _, f := range e.open[c.Name] {
		if f.Severity.Rank() >= c.FailOn.Rank() {
			out = append(out, f)
		}
	}
	return out
}

func (e *eval) integrityReq(req compliance.Requirement, rr *compliance.RequirementResult) {
	f := e.in.Facts
	switch req.Integrity {
	case compliance.IntegrityVerified:
		rr.Count = f.Size
		switch {
		case f.Failure != nil:
			rr.Status = compliance.Failed
			rr.Detail = fmt.Sprintf("the trail does not verify: %v", f.Failure)
			rr.Gaps = e.keysOf(compliance.GapUnverified)
		case f.VerifiedAt.IsZero():
			rr.Status, rr.Detail = compliance.Missing, "the trail was not verified"
		default:
			rr.Status, rr.Newest = compliance.Present, f.VerifiedAt
			rr.Detail = fmt.Sprintf("%s verified at %s", plural.Count(f.Size, "record"), audit.FormatTime(f.VerifiedAt))
		}
	case compliance.IntegritySigned:
		switch {
		case f.Size == 0:
			rr.Status, rr.Detail = compliance.Missing, "the trail is empty"
		case !f.Signed:
			rr.Status, rr.Detail, rr.Gaps = compliance.Missing, "the trail has no log key: no signed checkpoint vouches for its records", e.keysOf(compliance.GapUnsigned)
		default:
			rr.Status, rr.Count = compliance.Present, f.SignedSize
			rr.Detail = fmt.Sprintf("the latest tree head (size %d) is signed by the log key", f.SignedSize)
		}
	case compliance.IntegrityCosigned:
		e.cosignedReq(req, rr)
	case compliance.IntegritySignatures:
		e.signaturesReq(req, rr)
	case compliance.IntegritySchedule:
		e.scheduleReq(rr)
	case compliance.IntegrityClock:
		c := e.clock
		rr.Count = c.stamped
		switch {
		case c.stamped == 0:
			rr.Status, rr.Detail = compliance.Missing, "no record of the period is stamped at the time it was recorded"
		case len(c.anomalies) > 0:
			rr.Status = compliance.Partial
			rr.Detail = fmt.Sprintf("%s: record times go backwards beyond %s", plural.Count(len(c.anomalies), "clock anomaly", "clock anomalies"), e.set.ClockTolerance)
			rr.Gaps = e.keysOf(compliance.GapClock)
		default:
			rr.Status = compliance.Present
			rr.Detail = fmt.Sprintf("%s stamped at recording, in time order within %s", plural.Count(c.stamped, "record"), e.set.ClockTolerance)
		}
	case compliance.IntegrityRetention:
		e.retentionReq(req, rr)
	}
}

func (e *eval) keysOf(kind string) []string {
	var out []string
	for _, g := range e.gaps {
		if g.Kind == kind {
			out = append(out, g.Key)
		}
	}
	return out
}

func (e *eval) cosignedReq(req compliance.Requirement, rr *compliance.RequirementResult) {
	f := e.in.Facts
	rr.Count = f.Cosigned
	switch {
	case f.Size == 0:
		rr.Status, rr.Detail = compliance.Missing, "the trail is empty"
	case f.Cosigned == 0:
		rr.Status, rr.Detail = compliance.Missing, "no trusted key co-signed a checkpoint of this log (ami-audit sign --checkpoint)"
		rr.Gaps = e.keysOf(compliance.GapUncosigned)
	case e.stale(req, f.CosignedAt) && e.cosign.count > 0:
		rr.Status, rr.Newest = compliance.Partial, f.CosignedAt
		rr.Detail = fmt.Sprintf("the newest co-signed checkpoint (size %d) is of %s, older than the %s required, and %s of the period came after it",
			f.Cosigned, audit.FormatTime(f.CosignedAt), req.Freshness, plural.Count(e.cosign.count, "record"))
		rr.Gaps = e.keysOf(compliance.GapUncosigned)
	default:
		rr.Status, rr.Newest = compliance.Present, f.CosignedAt
		rr.Detail = fmt.Sprintf("a checkpoint of size %d co-signed at %s", f.Cosigned, audit.FormatTime(f.CosignedAt))
	}
}

func (e *eval) signaturesReq(req compliance.Requirement, rr *compliance.RequirementResult) {
	t := e.sigs[sigKey(req)]
	rr.Count = t.selected - t.lacking
	switch {
	case t.selected == 0:
		rr.Status, rr.Detail = compliance.Missing, "no record of the period is of the kind that must be signed"
	case t.lacking == t.selected:
		rr.Status = compliance.Missing
		rr.Detail = fmt.Sprintf("none of the %s has %d trusted %s", plural.Count(t.selected, "record"), t.min, plural.Pick(t.min, "signer", "signers"))
	case t.lacking > 0:
		rr.Status = compliance.Partial
		rr.Detail = fmt.Sprintf("%s of %d lack %d trusted %s", plural.Count(t.lacking, "record"), t.selected, t.min, plural.Pick(t.min, "signer", "signers"))
	default:
		rr.Status = compliance.Present
		rr.Detail = fmt.Sprintf("each of the %s has %d trusted %s or more", plural.Count(t.selected, "record"), t.min, plural.Pick(t.min, "signer", "signers"))
	}
	if t.lacking > 0 {
		rr.Gaps = e.sigGapKeys(t)
	}
}

func (e *eval) retentionReq(req compliance.Requirement, rr *compliance.RequirementResult) {
	rf := e.in.Facts.Retention
	if req.MinKeep != "" {
		for _, p := range rf.Policies {
			if compliance.Period(p.Keep).Shorter(req.MinKeep, e.end) {
				rr.Status = compliance.Failed
				rr.Detail = fmt.Sprintf("retention policy %s keeps records %s, shorter than the %s required", p.Name, p.Keep, req.MinKeep)
				return
			}
		}
	}
	switch {
	case rf.Overdue > 0:
		rr.Status, rr.Count = compliance.Partial, rf.Overdue
		rr.Detail = fmt.Sprintf("%s kept longer than %s allows (run 'ami-audit retention apply')", plural.Count(rf.Overdue, "record"), plural.Pick(len(rf.Policies), "its policy", "their policies"))
		rr.Gaps = e.keysOf(compliance.GapRetention)
	case len(rf.Policies) == 0 && req.MinKeep != "":
		rr.Status, rr.Detail = compliance.Present, "no retention policy prunes records: they are kept for ever"
	case len(rf.Policies) == 0:
		rr.Status, rr.Detail = compliance.Missing, "no retention policy is set (retention.policies in .audit/config.yaml)"
	case !rf.Checked:
		rr.Status, rr.Detail = compliance.Partial, "retention policies are set, but whether records are kept too long was not checked"
	default:
		var names []string
		for _, p := range rf.Policies {
			names = append(names, p.Name+" "+p.Keep)
		}
		rr.Status = compliance.Present
		rr.Detail = fmt.Sprintf("%s in force (%s); no record is kept beyond its policy", plural.Count(len(rf.Policies), "policy", "policies"), strings.Join(names, ", "))
		if req.MinKeep != "" {
			rr.Detail += "; none keeps records shorter than " + string(req.MinKeep)
		}
	}
}

// addGap records a gap once per key.
func (e *eval) addGap(g compliance.Gap) {
	if e.gapKeys[g.Key] {
		return
	}
	e.gapKeys[g.Key] = true
	e.gaps = append(e.gaps, g)
}

func seqPtr(v uint64) *uint64 { return &v }

// trailGaps finds the gaps of the trail itself.
func (e *eval) trailGaps() {
	f := e.in.Facts
	if f.Failure != nil {
		g := compliance.Gap{Key: fmt.Sprintf("%s|%d", compliance.GapUnverified, f.Failure.Seq), Kind: compliance.GapUnverified, Severity: audit.SeverityCritical,
			Title:  fmt.Sprintf("records from %d on do not verify", f.Failure.Seq),
			Detail: fmt.Sprintf("%v; verification stops at the first failure, so the records after it are unverified too (run 'ami-audit verify')", f.Failure),
			From:   seqPtr(f.Failure.Seq)}
		if f.Size > f.Failure.Seq {
			g.To, g.Count = seqPtr(f.Size), f.Size-f.Failure.Seq
		}
		if f.Failure.RecordID != "" {
			g.Records = []compliance.Evidence{{Sequence: f.Failure.Seq, RecordID: f.Failure.RecordID}}
		}
		e.addGap(g)
	}
	if f.Size > 0 && !f.Signed {
		e.addGap(compliance.Gap{Key: compliance.GapUnsigned + "|0", Kind: compliance.GapUnsigned, Severity: audit.SeverityWarning,
			Title:  "no record is covered by a signed checkpoint",
			Detail: "the trail was created without a log key: its tree heads are unsigned, and nothing outside the store vouches for its records",
			From:   seqPtr(0), To: seqPtr(f.Size), Count: f.Size})
	}
	if f.Signed && f.SignedSize < f.Size {
		e.addGap(compliance.Gap{Key: fmt.Sprintf("%s|%d", compliance.GapUnsigned, f.SignedSize), Kind: compliance.GapUnsigned, Severity: audit.SeverityError,
			Title:  fmt.Sprintf("records from %d on are not covered by a signed tree head", f.SignedSize),
			Detail: "the latest tree head signed by the log key is smaller than the trail",
			From:   seqPtr(f.SignedSize), To: seqPtr(f.Size), Count: f.Size - f.SignedSize})
	}
	if e.cosign.count > 0 && e.cosignStale() {
		first, last := e.cosign.first, e.cosign.last
		title := fmt.Sprintf("records from %d on are not covered by a co-signed checkpoint", first.Sequence)
		detail := "no trusted key co-signed a checkpoint of this log (ami-audit sign --checkpoint): nothing held outside the operator's reach vouches for these records"
		if f.Cosigned > 0 {
			detail = fmt.Sprintf("the newest co-signed checkpoint (size %d, co-signed %s) covers the records before them", f.Cosigned, audit.FormatTime(f.CosignedAt))
		}
		e.addGap(compliance.Gap{Key: fmt.Sprintf("%s|%d", compliance.GapUncosigned, first.Sequence), Kind: compliance.GapUncosigned, Severity: audit.SeverityWarning,
			Title: title, Detail: detail, From: seqPtr(first.Sequence), To: seqPtr(last.Sequence + 1), Count: e.cosign.count,
			Start: first.Timestamp.UTC(), Records: []compliance.Evidence{compliance.EvidenceOf(first)}})
	}
	for _, k := range sortedKeys(e.sigs) {
		e.sigGapKeys(e.sigs[k])
	}
	e.scheduleGaps()
	for _, g := range e.clock.anomalies {
		e.addGap(g)
	}
	if rf := f.Retention; rf.Overdue > 0 {
		e.addGap(compliance.Gap{Key: compliance.GapRetention + "|overdue", Kind: compliance.GapRetention, Severity: audit.SeverityWarning,
			Title:  fmt.Sprintf("%s kept longer than the retention policies allow", plural.Count(rf.Overdue, "record")),
			Detail: fmt.Sprintf("records %d..%d include records past their policy's period and under no legal hold; 'ami-audit retention apply' prunes them", rf.First, rf.Last),
			From:   seqPtr(rf.First), To: seqPtr(rf.Last + 1), Count: rf.Overdue})
	}
}

// cosignStale: the newest co-signature is missing or older than the
// freshest co-signing requirement of the catalogs asks (7 days when none
// says).
func (e *eval) cosignStale() bool {
	f := e.in.Facts
	if f.Cosigned == 0 {
		return e.wants(compliance.IntegrityCosigned)
	}
	fresh := compliance.Period("")
	for _, c := range e.in.Catalogs {
		for _, ctl := range c.Controls {
			for _, r := range ctl.Evidence {
				if r.Integrity == compliance.IntegrityCosigned {
					p := cmp.Or(r.Freshness, ctl.Freshness)
					if p != "" && (fresh == "" || p.Shorter(fresh, e.end)) {
						fresh = p
					}
				}
			}
		}
	}
	if fresh == "" {
		return false
	}
	return f.CosignedAt.Before(fresh.Before(e.end))
}

func (e *eval) wants(kind string) bool {
	for _, c := range e.in.Catalogs {
		for _, ctl := range c.Controls {
			for _, r := range ctl.Evidence {
				if r.Integrity == kind {
					return true
				}
			}
		}
	}
	return false
}

// sigGapKeys records the gaps of a signatures requirement and returns
// their keys.
func (e *eval) sigGapKeys(t *sigTally) []string {
	var keys []string
	for _, s := range t.spans {
		g := compliance.Gap{Key: fmt.Sprintf("%s|%d|%d", compliance.GapSignatures, t.min, s.first.Sequence), Kind: compliance.GapSignatures, Severity: audit.SeverityWarning,
			Title: fmt.Sprintf("%s from %d without %d trusted %s", plural.Count(s.count, "record"), s.first.Sequence, t.min, plural.Pick(t.min, "signer", "signers")),
			Detail: fmt.Sprintf("records %d..%d (%s) have no signature by a trusted key and no co-signed checkpoint covering them; 'ami-audit sign --key KEY --unsigned' signs them",
				s.first.Sequence, s.last.Sequence, plural.Count(s.count, "record")),
			From: seqPtr(s.first.Sequence), To: seqPtr(s.last.Sequence + 1), Count: s.count,
			Start: s.first.Timestamp.UTC(), End: s.last.Timestamp.UTC(), Records: []compliance.Evidence{compliance.EvidenceOf(s.first)}}
		if s.last != s.first {
			g.Records = append(g.Records, compliance.EvidenceOf(s.last))
		}
		e.addGap(g)
		keys = append(keys, g.Key)
	}
	return keys
}

// clockState finds record times going backwards among records stamped
// when they are recorded.
type clockState struct {
	stamped   uint64
	hi        *audit.Record // the latest time seen so far
	cur       int           // index of the anomaly in progress, -1 when none
	anomalies []compliance.Gap
}

func (c *clockState) add(r *audit.Record, tol time.Duration, now time.Time) {
	if c.stamped == 0 {
		c.cur = -1
	}
	c.stamped++
	ts := r.Timestamp.UTC()
	if ts.After(now.Add(tol)) && c.cur < 0 && len(c.anomalies) < maxSpans {
		c.anomalies = append(c.anomalies, compliance.Gap{Key: fmt.Sprintf("%s|future|%d", compliance.GapClock, r.Sequence), Kind: compliance.GapClock, Severity: audit.SeverityWarning,
			Title:  fmt.Sprintf("record %d is stamped in the future", r.Sequence),
			Detail: fmt.Sprintf("record %d (%s) is stamped %s, %s after the time of the assessment", r.Sequence, r.Action, audit.FormatTime(ts), ts.Sub(now).Round(time.Second)),
			From:   seqPtr(r.Sequence), To: seqPtr(r.Sequence + 1), Count: 1, Start: ts, Records: []compliance.Evidence{compliance.EvidenceOf(r)}})
	}
	if c.hi != nil && ts.Before(c.hi.Timestamp.Add(-tol)) {
		if c.cur < 0 && len(c.anomalies) < maxSpans {
			back := c.hi.Timestamp.Sub(ts).Round(time.Second)
			c.anomalies = append(c.anomalies, compliance.Gap{Key: fmt.Sprintf("%s|%d", compliance.GapClock, r.Sequence), Kind: compliance.GapClock, Severity: audit.SeverityWarning,
				Title: fmt.Sprintf("the clock went back %s at record %d", back, r.Sequence),
				Detail: fmt.Sprintf("record %d (%s, %s) is stamped %s, %s before record %d (%s, %s) appended earlier",
					r.Sequence, r.Action, r.Source, audit.FormatTime(ts), back, c.hi.Sequence, c.hi.Action, audit.FormatTime(c.hi.Timestamp)),
				From: seqPtr(r.Sequence), Start: ts, End: c.hi.Timestamp.UTC(),
				Records: []compliance.Evidence{compliance.EvidenceOf(c.hi), compliance.EvidenceOf(r)}})
			c.cur = len(c.anomalies) - 1
		}
		if c.cur >= 0 {
			c.anomalies[c.cur].Count++
			c.anomalies[c.cur].To = seqPtr(r.Sequence + 1)
		}
		return
	}
	c.cur = -1
	if c.hi == nil || ts.After(c.hi.Timestamp) {
		c.hi = r
	}
}
