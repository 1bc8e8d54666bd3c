// Package secrets finds secrets in text and masks them. It is the one
// detection ami-audit uses wherever a value could be a secret: sources mask
// every value before it enters a record, and the security analyzer reports
// what it finds.
//
// Detection is gitleaks' (github.com/zricethezav/gitleaks/v8) default rule
// set, or a gitleaks TOML configuration given by path, plus ami-audit's own
// rules for what gitleaks does not look for: passwords in URLs (user
// information and query parameters, percent-encoded or not), Authorization
// header credentials, values of password and secret settings, C2SP
// signed-note private keys and PEM private key blocks cut short. A text is
// first checked for the rules' keywords (an Aho-Corasick pass); the regular
// expressions run only when a keyword is there, so text without secrets is
// cheap.
//
// A masked secret becomes a marker that keeps its kind and a fingerprint:
//
//	[REDACTED aws-access-token fp:3f9a1c2b]
//
// The fingerprint is a keyed hash (HMAC-SHA-256, the first 4 bytes in hex)
// of the secret: the same secret gives the same fingerprint wherever it
// appears under one key, so a reader can tell that two records hold the
// same secret, and nothing about the value can be learned without the key.
// Masking is idempotent: markers are never matched again.
//
// Nothing in this package returns or prints a found secret: a Match holds
// its offsets, its rule and its fingerprint only.
//
// FindFragment scans a file or the lines a commit added to one the way the
// gitleaks command does (the file's path and commit known, decoding on),
// for the security analyzer.
package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// MinKeySize is the least length of Config.FingerprintKey.
const MinKeySize = 16

// Config configures a Detector.
type Config struct {
	// GitleaksConfig is the path of a gitleaks TOML configuration
	// (.gitleaks.toml). Empty: gitleaks' default rules. Its rules replace
	// the default set unless it says "[extend] useDefault = true";
	// "[extend] path" is not supported. ami-audit's own rules are always
	// added.
	GitleaksConfig string
	// FingerprintKey keys the fingerprints (at least MinKeySize bytes).
	// Keep it secret: whoever holds it can test guesses of a secret
	// against a fingerprint.
	FingerprintKey []byte
}

// Match is one secret found in a text. It never holds the secret.
type Match struct {
	// RuleID names the kind of secret (gitleaks' rule id or one of
	// ami-audit's), Description says it in words.
	RuleID, Description string
	// Start and End are the byte offsets of the secret in the text
	// (of the union, when findings of several rules overlap).
	Start, End int
	// Line and Column (1-based; the column counts bytes) locate Start.
	Line, Column int
	// Fingerprint is Fingerprint(key, secret) of the secret found by
	// RuleID.
	Fingerprint string
	// PathOnly: a rule matched the file's path alone (FindFragment).
	PathOnly bool
}

// Detector finds and masks secrets. It is safe for concurrent use.
type Detector struct {
	key  []byte
	desc map[string]string
	// always is true when some content rule has no keyword, so that the
	// keyword pass cannot rule a text out.
	always bool

	// Find and Mask: gitleaks' rules and ami-audit's in one detector, no
	// decoding, after a keyword pass (trie). Built on first use.
	findCfg  config.Config
	findOnce sync.Once
	gl       *detect.Detector
	trie     *ahocorasick.Trie

	// gitleaks runs every rule whose keyword a text holds, but first
	// walks all of its rules to learn which: most of its time on short
	// values. Find gives a text instead to a detector of the rules its
	// keywords call for (with the rules they require, and the rules that
	// have no keyword), which finds exactly what the whole set would.
	byPattern   [][]string // the trie's pattern index → rule ids
	alwaysRules []string   // content rules without keywords
	subsetsMu   sync.Mutex
	subsets     map[string]*detect.Detector // by rule ids, sorted and joined

	// FindFragment: gitleaks' rules (or the configuration's) as its
	// command runs them, decoding on (scan), and ami-audit's rules in a
	// second pass without decoding (scanOwn). Built on first use.
	scanCfg, ownCfg config.Config
	scanOnce        sync.Once
	scan, scanOwn   *detect.Detector

	// fileAllow are the configuration's allowlists of any condition: their
	// paths and commits pass over whole files (Allowlisted), a verdict
	// kept per path in allowedPaths.
	fileAllow    []*config.Allowlist
	allowedPaths sync.Map
	cachedPaths  atomic.Int64
}

// New builds a detector.
func New(cfg Config) (*Detector, error) {
	if len(cfg.FingerprintKey) < MinKeySize {
		return nil, fmt.Errorf("secrets: fingerprint key of %d bytes, want at least %d", len(cfg.FingerprintKey), MinKeySize)
	}
	gc, err := loadConfig(cfg.GitleaksConfig)
	if err != nil {
		return nil, err
	}
	// FindFragment runs gitleaks' rules alone, as gitleaks does (its
	// de-duplication of generic findings must not see ami-audit's), and
	// ami-audit's in a second pass.
	gitleaksOnly := gc
	gitleaksOnly.Rules = maps.Clone(gc.Rules)
	gitleaksOnly.Keywords = maps.Clone(gc.Keywords)
	gitleaksOnly.OrderedRules = slices.Clone(gc.OrderedRules)
	own := config.Config{Path: gc.Path, Allowlists: gc.Allowlists, Rules: map[string]config.Rule{}, Keywords: map[string]struct{}{}}
	for _, r := range ownRules {
		cr, err := r.compile()
		if err != nil {
			return nil, fmt.Errorf("secrets: rule %s: %w", r.ID, err)
		}
		if _, dup := gc.Rules[r.ID]; !dup {
			gc.OrderedRules = append(gc.OrderedRules, r.ID)
		}
		gc.Rules[r.ID] = cr
		own.Rules[r.ID] = cr
		own.OrderedRules = append(own.OrderedRules, r.ID)
		for _, k := range r.Keywords {
			gc.Keywords[strings.ToLower(k)] = struct{}{}
			own.Keywords[strings.ToLower(k)] = struct{}{}
		}
	}
	d := &Detector{key: slices.Clone(cfg.FingerprintKey), desc: map[string]string{},
		findCfg: gc, scanCfg: gitleaksOnly, ownCfg: own}
	for id, r := range gc.Rules {
		d.desc[id] = r.Description
		if r.Regex != nil && len(r.Keywords) == 0 {
			d.always = true
		}
	}
	for _, a := range gc.Allowlists {
		if a.MatchCondition != config.AllowlistMatchAnd && (len(a.Paths) > 0 || len(a.Commits) > 0) {
			d.fileAllow = append(d.fileAllow, a)
		}
	}
	return d, nil
}

// maxSubsets bounds the detectors kept for sets of rules; texts that call
// for other sets use the detector of all rules.
const maxSubsets = 256

// finder returns the detector of Find and Mask, building it on first use.
func (d *Detector) finder() *detect.Detector {
	d.findOnce.Do(func() {
		byKeyword := map[string][]string{}
		for _, id := range slices.Sorted(maps.Keys(d.findCfg.Rules)) {
			r := d.findCfg.Rules[id]
			if r.Regex != nil && len(r.Keywords) == 0 {
				d.alwaysRules = append(d.alwaysRules, id)
			}
			for _, k := range r.Keywords {
				k = strings.ToLower(k)
				byKeyword[k] = append(byKeyword[k], id)
			}
		}
		kws := slices.Sorted(maps.Keys(byKeyword))
		for _, k := range kws {
			d.byPattern = append(d.byPattern, byKeyword[k])
		}
		d.trie = ahocorasick.NewTrieBuilder().AddStrings(kws).Build()
		d.subsets = map[string]*detect.Detector{}
		d.gl = newFinder(d.findCfg)
	})
	return d.gl
}

// newFinder builds a gitleaks detector of Find's kind for gc.
func newFinder(gc config.Config) *detect.Detector {
	gl := detect.NewDetector(gc)
	// No decoding passes, no size limit: Find sees what it is given.
	gl.MaxDecodeDepth = 0
	return gl
}

// detectorFor returns a detector of the rules gitleaks would run on a
// text whose lower-case form is lower: those with a keyword in it and
// those without keywords, with the rules they require. It returns nil
// when there are none. finder must have run.
func (d *Detector) detectorFor(lower string) *detect.Detector {
	var ids []string
	d.trie.Walk(bytesOf(lower), func(_, _, pattern int64) bool {
		ids = append(ids, d.byPattern[pattern]...)
		return true
	})
	if len(ids) == 0 && len(d.alwaysRules) == 0 {
		return nil
	}
	ids = append(ids, d.alwaysRules...)
	// Rules that require others (gitleaks' multi-part rules) look them
	// up in the detector's configuration.
	for i := 0; i < len(ids); i++ {
		for _, req := range d.findCfg.Rules[ids[i]].RequiredRules {
			ids = append(ids, req.RuleID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	key := strings.Join(ids, "\x00")
	d.subsetsMu.Lock()
	defer d.subsetsMu.Unlock()
	if gl, ok := d.subsets[key]; ok {
		return gl
	}
	if len(d.subsets) >= maxSubsets {
		return d.gl
	}
	sub := d.findCfg
	sub.Rules = make(map[string]config.Rule, len(ids))
	sub.Keywords = map[string]struct{}{}
	sub.OrderedRules = nil
	for _, id := range ids {
		r, ok := d.findCfg.Rules[id]
		if !ok {
			continue
		}
		sub.Rules[id] = r
		sub.OrderedRules = append(sub.OrderedRules, id)
		for _, k := range r.Keywords {
			sub.Keywords[strings.ToLower(k)] = struct{}{}
		}
	}
	gl := newFinder(sub)
	d.subsets[key] = gl
	return gl
}

// scanners returns the detectors of FindFragment, building them on first
// use.
func (d *Detector) scanners() (gitleaks, own *detect.Detector) {
	d.scanOnce.Do(func() {
		d.scan = detect.NewDetector(d.scanCfg)
		d.scan.MaxDecodeDepth = ScanDecodeDepth
		d.scanOwn = detect.NewDetector(d.ownCfg)
		d.scanOwn.MaxDecodeDepth = 0
	})
	return d.scan, d.scanOwn
}

// Find returns the secrets in text, ordered by offset, without overlaps
// (overlapping findings are merged into one, named after the longest).
// Markers left by Mask are never matched.
func (d *Detector) Find(text string) []Match {
	return d.find(text, nil)
}

// find is Find with the detector gl, or (nil) the one of the rules the
// text's keywords call for.
func (d *Detector) find(text string, gl *detect.Detector) []Match {
	if text == "" {
		return nil
	}
	d.finder()
	scan := blankMarkers(text)
	if gl == nil {
		if gl = d.detectorFor(strings.ToLower(scan)); gl == nil {
			return nil
		}
	}
	var spans []span
	for _, f := range gl.DetectString(scan) {
		sec := f.Secret
		if sec == "" || strings.HasPrefix(f.Match, "file detected: ") {
			continue
		}
		// gitleaks reports lines, not offsets: mask every occurrence of
		// the secret, which covers the one found.
		for from := 0; ; {
			i := strings.Index(scan[from:], sec)
			if i < 0 {
				break
			}
			spans = append(spans, span{from + i, from + i + len(sec), f.RuleID})
			from += i + len(sec)
		}
	}
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	// Overlapping spans become one region; the best of them names it and
	// gives the fingerprint.
	type region struct {
		start, end int
		best       span
	}
	merged := []region{{spans[0].start, spans[0].end, spans[0]}}
	for _, s := range spans[1:] {
		last := &merged[len(merged)-1]
		if s.start >= last.end {
			merged = append(merged, region{s.start, s.end, s})
			continue
		}
		last.end = max(last.end, s.end)
		if s.better(last.best) {
			last.best = s
		}
	}
	out := make([]Match, 0, len(merged))
	line, lineStart, pos := 1, 0, 0
	for _, r := range merged {
		for ; pos < r.start; pos++ {
			if text[pos] == '\n' {
				line++
				lineStart = pos + 1
			}
		}
		out = append(out, Match{
			RuleID: r.best.rule, Description: d.desc[r.best.rule],
			Start: r.start, End: r.end,
			Line: line, Column: r.start - lineStart + 1,
			Fingerprint: Fingerprint(d.key, text[r.best.start:r.best.end]),
		})
	}
	return out
}

// span is a secret found by a rule.
type span struct {
	start, end int
	rule       string
}

// better orders the findings of one region: a specific rule before a
// generic one, then the longer secret, then the rule id.
func (s span) better(o span) bool {
	sg, og := strings.Contains(s.rule, "generic"), strings.Contains(o.rule, "generic")
	switch {
	case sg != og:
		return og
	case s.end-s.start != o.end-o.start:
		return s.end-s.start > o.end-o.start
	}
	return s.rule < o.rule
}

// maxMaskPasses bounds the passes of Mask: masking can, in principle,
// bring together text that a rule then matches.
const maxMaskPasses = 4

// Mask returns text with every secret replaced by a marker
// "[REDACTED <rule> fp:<fingerprint>]". Text without secrets is returned
// as it is; Mask(Mask(t)) == Mask(t).
func (d *Detector) Mask(text string) string {
	for range maxMaskPasses {
		ms := d.Find(text)
		if len(ms) == 0 {
			return text
		}
		text = apply(text, ms)
	}
	return text
}

func apply(text string, ms []Match) string {
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, m := range ms {
		b.WriteString(text[last:m.Start])
		b.WriteString(Marker(m.RuleID, m.Fingerprint))
		last = m.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// Marker is the text that replaces a secret of kind rule with fingerprint fp.
func Marker(rule, fp string) string {
	return "[REDACTED " + markerRule(rule) + " fp:" + fp + "]"
}

// markerRule keeps a rule id to the characters a marker may hold.
func markerRule(rule string) string {
	ok := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
	}
	if rule != "" && strings.IndexFunc(rule, func(r rune) bool { return !ok(r) }) < 0 {
		return rule
	}
	return strings.Map(func(r rune) rune {
		if ok(r) {
			return r
		}
		return '_'
	}, "x"+rule)
}

// markerRe matches a marker left by Mask.
var markerRe = regexp.MustCompile(`\[REDACTED [A-Za-z0-9._-]+ fp:[0-9a-f]{8}\]`)

// blankMarkers replaces each marker with spaces of the same length, so
// that offsets stay and no rule matches in or across a marker.
func blankMarkers(text string) string {
	if !strings.Contains(text, "[REDACTED ") {
		return text
	}
	locs := markerRe.FindAllStringIndex(text, -1)
	if len(locs) == 0 {
		return text
	}
	b := []byte(text)
	for _, l := range locs {
		for i := l[0]; i < l[1]; i++ {
			b[i] = ' '
		}
	}
	return string(b)
}

// hasKeyword reports whether text holds a keyword of some rule.
func (d *Detector) hasKeyword(text string) bool {
	d.finder()
	found := false
	d.trie.Walk(bytesOf(strings.ToLower(text)), func(_, _, _ int64) bool {
		found = true
		return false
	})
	return found
}

// bytesOf views s as bytes, without a copy, for the keyword trie, which
// only reads them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Fingerprint is the keyed fingerprint of a secret: HMAC-SHA-256 under
// key, the first 4 bytes in lower-case hex.
func Fingerprint(key []byte, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// Fingerprint is the keyed fingerprint of secret under the detector's key,
// as its matches carry: for a secret found another way (a whole key file).
func (d *Detector) Fingerprint(secret string) string { return Fingerprint(d.key, secret) }

// loadConfig returns gitleaks' default configuration, or the one at path.
func loadConfig(path string) (gc config.Config, err error) {
	defer func() {
		// gitleaks compiles a configuration's expressions with
		// MustCompile: a bad one panics.
		if p := recover(); p != nil {
			err = fmt.Errorf("secrets: gitleaks config %s: %v", cmpOr(path, "(default)"), p)
		}
	}()
	def, err := translate(config.DefaultConfig, "")
	if err != nil {
		return gc, fmt.Errorf("secrets: gitleaks default config: %w", err)
	}
	if path == "" {
		return def, nil
	}
	user, err := readUserConfig(path)
	if err != nil {
		return gc, err
	}
	if !user.Extend.UseDefault {
		return user, nil
	}
	// [extend] useDefault: the default rules, with the user's added or
	// replacing them, less the disabled ones.
	for _, id := range user.Extend.DisabledRules {
		delete(def.Rules, id)
	}
	for id, r := range user.Rules {
		def.Rules[id] = r
	}
	for k := range user.Keywords {
		def.Keywords[k] = struct{}{}
	}
	def.Allowlists = append(def.Allowlists, user.Allowlists...)
	def.OrderedRules = def.OrderedRules[:0]
	for id := range def.Rules {
		def.OrderedRules = append(def.OrderedRules, id)
	}
	slices.Sort(def.OrderedRules)
	return def, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ErrUnsupported is returned for gitleaks settings this package does not
// honour.
var ErrUnsupported = errors.New("unsupported gitleaks setting")
