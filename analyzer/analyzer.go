// Package analyzer runs analyzers (audit.Analyzer) and keeps their findings
// in the trail. It is the one place where findings become records, and
// where a later run tells a finding it has seen before from a new one;
// every analyzer (security, quality, git, drift, compliance) goes through
// it.
//
// # Contract
//
// An analyzer reports, on each run, every finding that holds now
// (audit.Detected), each with a stable key, and says which of its checks
// ran to completion. Run then compares what was reported with the
// findings the trail holds open for that analyzer, and appends:
//
//   - a finding record (action "<name>_finding") for each finding whose key
//     is not open, or whose content (severity, description, location,
//     evidence) differs from its open record;
//   - a resolution record (action "<name>_finding_resolved") for each open
//     finding of a completed check that was not reported;
//   - nothing else: re-analysing unchanged input appends nothing.
//
// A check that did not complete (an analyzer error, a database not given,
// an option not asked for) resolves nothing, so a partial run never
// closes findings it did not look for.
//
// # Reading the evidence
//
// Run hands each analyzer an audit.Analysis: the records this run's
// sources appended (Appended; nothing on an unchanged repository), and
// the whole trail (Trail). An analyzer of the current state reads the
// newest record per target of the sources it understands (Latest); one
// of a period queries the trail with Filter.Since and Until; one that
// reads the repository itself (a secret scanner) reads Target. The
// batch collector runs the analyzers after its sources, so the trail
// already holds what they appended.
//
// # Records
//
// A finding record has the analyzer's finding as its only entry in
// findings, the finding's severity as the record's severity, the target
// and target type the analyzer gave, source "<name>_analyzer", and in its
// context the evidence the analyzer gave plus:
//
//	finding_key     the stable key, as KeyID (a digest: what a finding is
//	                about may hold a secret, which masking would change)
//	check           the check that found it
//	analyzer        the analyzer's name
//	finding_digest  SHA-256 of the canonical form of what the record states
//	record_ids      the records the finding rests on (audit.Detected.Records)
//	updates         record_id of the open record it replaces (a changed finding)
//
// A resolution record has the same target, severity info, no findings,
// and in its context finding_key, check, analyzer, finding_type and
// resolves: the record_id of the finding record it closes.
//
// The open findings are derived from the trail alone (see Open): a key is
// open when its newest finding record is newer than its newest resolution.
// Nothing is kept beside the trail. A trail is taken to audit one
// repository: keys are compared across every run of an analyzer.
//
// Two runs of the same analyzer at the same time may both record a new
// finding; the second record then carries the same key and digest, and
// Open keeps the newer. Nothing is lost or miscounted beyond that
// duplicate.
package analyzer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
)

// Context members of the records this package appends.
const (
	MemberKey      = "finding_key"
	MemberCheck    = "check"
	MemberAnalyzer = "analyzer"
	MemberDigest   = "finding_digest"
	MemberUpdates  = "updates"
	MemberResolves = "resolves"
	MemberType     = "finding_type"
	MemberRecords  = "record_ids"
)

// KeyID is what a finding record holds as its finding_key: the hex
// SHA-256 of the analyzer's key. A key names what a finding is about (a
// path, a package), which may hold a secret, and the masking step every
// record passes would change it; a digest of it is never masked, and
// tells the finding apart as well.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ActionFinding is the action of an analyzer's finding records.
func ActionFinding(name string) string { return name + "_finding" }

// ActionResolved is the action of an analyzer's resolution records.
func ActionResolved(name string) string { return name + "_finding_resolved" }

// SourceName is the source field of an analyzer's records.
func SourceName(name string) string { return name + "_analyzer" }

// Defaults of Config.
const (
	DefaultParallel  = 2
	DefaultBatchSize = 1000
)

// Config configures Run.
type Config struct {
	// Trail is read for the evidence and the open findings. Required.
	Trail audit.Reader
	// Appender receives the finding and resolution records; usually the
	// same store as Trail. Required.
	Appender audit.Appender
	// Actor of the records; default "system".
	Actor string
	// Parallel is how many analyzers run at once (DefaultParallel when 0).
	Parallel int
	// BatchSize is how many records one Append holds at most
	// (DefaultBatchSize when 0).
	BatchSize int
	// Now gives the time of the run and of its records; default time.Now.
	Now func() time.Time
	// Mask, when set, is applied to every record before it is appended:
	// the masking step every record of the trail passes (for instance
	// secrets.Detector.MaskRecord). Findings carry no secret by contract;
	// masking guards the text they quote (paths, advisories). The members
	// this package adds (finding_key, finding_digest, updates, resolves,
	// record_ids: digests and record ids) are added after it.
	Mask func(*audit.Record)
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Trail == nil:
		return errors.New("analyzer: no trail to read")
	case c.Appender == nil:
		return errors.New("analyzer: no appender")
	case c.Parallel < 0:
		return fmt.Errorf("analyzer: parallel %d must not be negative", c.Parallel)
	case c.BatchSize < 0:
		return fmt.Errorf("analyzer: batch size %d must not be negative", c.BatchSize)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Actor == "" {
		c.Actor = "system"
	}
	if c.Parallel == 0 {
		c.Parallel = DefaultParallel
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Span is a range of sequence numbers, From inclusive, To exclusive.
type Span struct{ From, To uint64 }

// Input is what a run gives its analyzers beside the trail.
type Input struct {
	// Target is what the run audits: the repository's root directory.
	Target string
	// Ran lists the sources that ran, by record source name.
	Ran []string
	// Appended holds the sequence numbers this run appended, in any order;
	// each analyzer reads those of the sources it understands.
	Appended []Span
}

// Result is what one analyzer did in a run.
type Result struct {
	Analyzer string
	// Done lists the checks that ran to completion.
	Done []string
	// Reported counts the findings the analyzer reported.
	Reported int
	// New, Changed and Resolved count the records appended: findings not
	// open before, open findings whose content changed, and resolutions.
	New, Changed, Resolved int
	// Open holds the newest record of every finding open after the run,
	// most severe first, then by target and key.
	Open []*audit.Record
	// Duration is how long the analysis and its appends took.
	Duration time.Duration
	// Err says why the analysis failed or its records were not all
	// appended; nil when it finished.
	Err error
}

// Appended is the number of records the run appended for the analyzer.
func (r *Result) Appended() int { return r.New + r.Changed + r.Resolved }

// Select returns the analyzers that understand at least one of the
// sources that ran, in the order given.
func Select(analyzers []audit.Analyzer, ran []string) []audit.Analyzer {
	var out []audit.Analyzer
	for _, a := range analyzers {
		if slices.ContainsFunc(a.Understands(), func(s string) bool { return slices.Contains(ran, s) }) {
			out = append(out, a)
		}
	}
	return out
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// Run runs the analyzers (at most Config.Parallel at once) and records
// their findings. It returns one result per analyzer, in the order given,
// and the errors of those that failed, joined.
func Run(ctx context.Context, cfg Config, analyzers []audit.Analyzer, in Input) ([]Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	seen := map[string]bool{}
	for i, a := range analyzers {
		if a == nil {
			return nil, fmt.Errorf("analyzer %d is nil", i)
		}
		n := a.Name()
		if !validName.MatchString(n) {
			return nil, fmt.Errorf("analyzer name %q is not a lower-case word", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("analyzer %s is given twice", n)
		}
		seen[n] = true
	}
	now := cfg.Now().UTC()
	results := make([]Result, len(analyzers))
	var g errgroup.Group
	g.SetLimit(cfg.Parallel)
	for i, a := range analyzers {
		g.Go(func() error {
			results[i] = runOne(ctx, cfg, a, in, now)
			return nil
		})
	}
	g.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("analyzer %s: %w", r.Analyzer, r.Err))
		}
	}
	return results, errors.Join(errs...)
}

// runOne analyzes and reconciles one analyzer.
func runOne(ctx context.Context, cfg Config, a audit.Analyzer, in Input, now time.Time) (res Result) {
	start := time.Now()
	name := a.Name()
	res.Analyzer = name
	defer func() { res.Duration = time.Since(start) }()

	reported := map[string]audit.Detected{}
	var mu sync.Mutex
	report := func(d audit.Detected) error {
		if err := checkDetected(d); err != nil {
			return err
		}
		id := KeyID(d.Key)
		mu.Lock()
		defer mu.Unlock()
		if _, dup := reported[id]; dup {
			return fmt.Errorf("finding key %s (finding_key) reported twice", id)
		}
		reported[id] = d
		return nil
	}
	analysis := &audit.Analysis{
		Target:   in.Target,
		Trail:    cfg.Trail,
		Ran:      slices.Clone(in.Ran),
		Appended: appended(ctx, cfg.Trail, in.Appended, a.Understands()),
		Now:      now,
	}
	done, err := analyze(ctx, a, analysis, report)
	res.Reported = len(reported)
	if err != nil {
		res.Err = err
		done = nil // after an error nothing is resolved
	} else {
		res.Done = slices.Clone(done)
	}
	if ctx.Err() != nil {
		res.Err = cmp.Or(res.Err, ctx.Err())
		return res
	}
	open, err := Open(ctx, cfg.Trail, name)
	if err != nil {
		res.Err = errors.Join(res.Err, err)
		return res
	}
	recs, err := reconcile(cfg, name, open, reported, done, now, &res)
	if err != nil {
		res.Err = errors.Join(res.Err, err)
		return res
	}
	for batch := range slices.Chunk(recs, cfg.BatchSize) {
		if err := cfg.Appender.Append(ctx, batch); err != nil {
			res.Err = errors.Join(res.Err, fmt.Errorf("append %d finding records: %w", len(batch), err))
			// What was appended stays; the counts say what was planned.
			return res
		}
	}
	for _, r := range recs {
		key, _ := r.Context[MemberKey].(string)
		if r.Action == ActionResolved(name) {
			delete(open, key)
		} else {
			open[key] = r
		}
	}
	res.Open = sortedOpen(open)
	return res
}

// analyze calls a.Analyze, turning a panic into an error.
func analyze(ctx context.Context, a audit.Analyzer, in *audit.Analysis, report func(audit.Detected) error) (done []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return a.Analyze(ctx, in, report)
}

func checkDetected(d audit.Detected) error {
	switch {
	case d.Key == "":
		return errors.New("a finding has no key")
	case d.Check == "":
		return fmt.Errorf("finding %s names no check", KeyID(d.Key))
	case d.Target == "":
		return fmt.Errorf("finding %s has no target", KeyID(d.Key))
	case !d.TargetType.Valid():
		return fmt.Errorf("finding %s: unknown target type %q", KeyID(d.Key), d.TargetType)
	case d.Finding.FindingType == "":
		return fmt.Errorf("finding %s has no finding type", KeyID(d.Key))
	case !d.Finding.Severity.Valid():
		return fmt.Errorf("finding %s: unknown severity %q", KeyID(d.Key), d.Finding.Severity)
	}
	return nil
}

// appended yields the records of spans whose source is one of sources
// (every record when sources is empty).
func appended(ctx context.Context, tr audit.Reader, spans []Span, sources []string) iter.Seq2[*audit.Record, error] {
	spans = mergeSpans(spans)
	return func(yield func(*audit.Record, error) bool) {
		for _, s := range spans {
			for r, err := range tr.Range(ctx, s.From, s.To) {
				if err != nil {
					yield(nil, err)
					return
				}
				if len(sources) > 0 && !slices.Contains(sources, r.Source) {
					continue
				}
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

// mergeSpans sorts spans and joins those that touch or overlap.
func mergeSpans(spans []Span) []Span {
	s := slices.Clone(spans)
	s = slices.DeleteFunc(s, func(x Span) bool { return x.To <= x.From })
	slices.SortFunc(s, func(a, b Span) int { return cmp.Compare(a.From, b.From) })
	var out []Span
	for _, x := range s {
		if n := len(out); n > 0 && x.From <= out[n-1].To {
			out[n-1].To = max(out[n-1].To, x.To)
			continue
		}
		out = append(out, x)
	}
	return out
}

// Open returns the open findings of the analyzer called name: for each
// key, its newest finding record, when no newer resolution closes it.
func Open(ctx context.Context, tr audit.Reader, name string) (map[string]*audit.Record, error) {
	newest := func(action string) (map[string]*audit.Record, error) {
		m := map[string]*audit.Record{}
		for r, err := range tr.Query(ctx, audit.Filter{Action: action, Limit: -1}) {
			if err != nil {
				return nil, fmt.Errorf("read %s records: %w", action, err)
			}
			if r.Source != SourceName(name) {
				continue
			}
			key, _ := r.Context[MemberKey].(string)
			if key == "" {
				continue
			}
			if old, ok := m[key]; !ok || r.Sequence > old.Sequence {
				m[key] = r
			}
		}
		return m, nil
	}
	found, err := newest(ActionFinding(name))
	if err != nil {
		return nil, err
	}
	resolved, err := newest(ActionResolved(name))
	if err != nil {
		return nil, err
	}
	for key, r := range resolved {
		if f, ok := found[key]; ok && r.Sequence > f.Sequence {
			delete(found, key)
		}
	}
	return found, nil
}

// Latest returns the newest record of each target among the records
// matching f that come from source (every source when ""), newest
// first: the current state of what a source records as snapshots (the
// module source's module_audit records, say). f's Limit and Newest are
// ignored: every matching record is read once.
func Latest(ctx context.Context, tr audit.Reader, f audit.Filter, source string) ([]*audit.Record, error) {
	f.Limit, f.Newest = -1, true
	seen := map[string]bool{}
	var out []*audit.Record
	for r, err := range tr.Query(ctx, f) {
		if err != nil {
			return nil, err
		}
		if (source != "" && r.Source != source) || seen[r.Target] {
			continue
		}
		seen[r.Target] = true
		out = append(out, r)
	}
	return out, nil
}

// OpenSorted is Open as a list, most severe first, then by target and key.
func OpenSorted(ctx context.Context, tr audit.Reader, name string) ([]*audit.Record, error) {
	open, err := Open(ctx, tr, name)
	if err != nil {
		return nil, err
	}
	return sortedOpen(open), nil
}

func sortedOpen(open map[string]*audit.Record) []*audit.Record {
	out := slices.Collect(maps.Values(open))
	slices.SortFunc(out, func(a, b *audit.Record) int {
		if c := cmp.Compare(b.Severity.Rank(), a.Severity.Rank()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		ka, _ := a.Context[MemberKey].(string)
		kb, _ := b.Context[MemberKey].(string)
		return cmp.Compare(ka, kb)
	})
	return out
}

// reconcile builds the records that bring the trail's open findings to
// what was reported, in a stable order (new and changed by key, then
// resolutions by key), counting them in res.
func reconcile(cfg Config, name string, open map[string]*audit.Record, reported map[string]audit.Detected, done []string, now time.Time, res *Result) ([]*audit.Record, error) {
	var recs []*audit.Record
	for _, key := range slices.Sorted(maps.Keys(reported)) {
		d := reported[key]
		digest, err := Digest(d)
		if err != nil {
			return nil, fmt.Errorf("finding %s: %w", key, err)
		}
		prev := open[key]
		if prev != nil {
			if old, _ := prev.Context[MemberDigest].(string); old == digest {
				continue
			}
		}
		r, err := findingRecord(cfg, name, d, digest, prev, now)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			res.Changed++
		} else {
			res.New++
		}
		recs = append(recs, r)
	}
	for _, key := range slices.Sorted(maps.Keys(open)) {
		prev := open[key]
		check, _ := prev.Context[MemberCheck].(string)
		if _, still := reported[key]; still || !slices.Contains(done, check) {
			continue
		}
		recs = append(recs, resolutionRecord(cfg, name, key, check, prev, now))
		res.Resolved++
	}
	return recs, nil
}

// Digest is the SHA-256 (hex) of the canonical form of what a finding
// states: its check, target, type, severity, description, location,
// recommendation, metadata and evidence, not the ids of the records it
// rests on (a source that records a snapshot per run gives new ids to
// unchanged evidence). Two reports of the same finding with the same
// digest are the same statement.
func Digest(d audit.Detected) (string, error) {
	f := d.Finding
	b, err := canonical.Marshal(map[string]any{
		"check": d.Check, "target": d.Target, "target_type": string(d.TargetType),
		"finding_type": f.FindingType, "severity": string(f.Severity), "description": f.Description,
		"location": f.Location, "recommendation": f.Recommendation,
		"metadata": orEmpty(f.Metadata), "evidence": orEmpty(d.Evidence),
	})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func findingRecord(cfg Config, name string, d audit.Detected, digest string, prev *audit.Record, now time.Time) (*audit.Record, error) {
	ctx := make(map[string]any, len(d.Evidence)+5)
	maps.Copy(ctx, d.Evidence)
	for _, m := range []string{MemberKey, MemberCheck, MemberAnalyzer, MemberDigest, MemberUpdates, MemberRecords} {
		if _, ok := ctx[m]; ok {
			return nil, fmt.Errorf("finding %s: evidence member %q is reserved", KeyID(d.Key), m)
		}
	}
	ctx[MemberCheck] = d.Check
	ctx[MemberAnalyzer] = name
	f := d.Finding
	f.FindingID = ""
	f.Metadata = maps.Clone(orEmpty(f.Metadata))
	r := &audit.Record{
		Timestamp: now, Actor: cfg.Actor, Action: ActionFinding(name),
		Target: d.Target, TargetType: d.TargetType, Source: SourceName(name),
		Reason:   "found by the " + name + " analyzer (" + d.Check + ")",
		Severity: f.Severity, Context: ctx, Findings: []audit.Finding{f},
	}
	mask(cfg, r)
	// What identifies the finding and links the records is added after
	// masking: digests and record ids, made here, hold nothing to mask,
	// and masking them (a "key" is a setting's name to the rules) would
	// make an unchanged finding look new.
	r.Context[MemberKey] = KeyID(d.Key)
	r.Context[MemberDigest] = digest
	if prev != nil {
		r.Context[MemberUpdates] = prev.RecordID
	}
	if len(d.Records) > 0 {
		r.Context[MemberRecords] = slices.Clone(d.Records)
	}
	r.Normalize()
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("finding %s: %w", KeyID(d.Key), err)
	}
	return r, nil
}

func resolutionRecord(cfg Config, name, key, check string, prev *audit.Record, now time.Time) *audit.Record {
	ctx := map[string]any{MemberCheck: check, MemberAnalyzer: name}
	if len(prev.Findings) > 0 {
		ctx[MemberType] = prev.Findings[0].FindingType
	}
	r := &audit.Record{
		Timestamp: now, Actor: cfg.Actor, Action: ActionResolved(name),
		Target: prev.Target, TargetType: prev.TargetType, Source: SourceName(name),
		Reason:   "no longer found by the " + name + " analyzer (" + check + ")",
		Severity: audit.SeverityInfo, Context: ctx,
	}
	mask(cfg, r)
	r.Context[MemberKey] = key
	r.Context[MemberResolves] = prev.RecordID
	r.Normalize()
	return r
}

// mask applies the configured masking step to a record.
func mask(cfg Config, r *audit.Record) {
	if cfg.Mask != nil {
		cfg.Mask(r)
	}
}
