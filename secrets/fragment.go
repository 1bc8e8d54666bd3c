package secrets

import (
	"context"
	"strconv"
	"strings"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// ScanDecodeDepth is how many rounds of decoding (base64, hex, percent
// escapes) FindFragment applies before matching, as the gitleaks command
// does by default.
const ScanDecodeDepth = 5

// Fragment is part of a file for FindFragment: the working tree's copy of
// a file, or the lines a commit added to it.
type Fragment struct {
	Text string
	// Path is the file's slash path relative to the repository: the
	// configuration's path allowlists and path rules apply to it.
	Path string
	// Commit is the commit the text comes from (history), or "": the
	// configuration's commit allowlists apply to it.
	Commit string
	// StartLine is the file's line where Text starts (1 when 0).
	StartLine int
}

// FindFragment reports the secrets of a fragment of a file as the gitleaks
// command reports them for a file or a commit: one Match per gitleaks
// finding, overlapping generic findings dropped as gitleaks drops them,
// path and commit allowlists applied, "gitleaks:allow" lines skipped, and
// encoded text decoded to ScanDecodeDepth rounds (gitleaks' rules only:
// ami-audit's run on the text as it is, in a second pass, so that they
// change nothing of what gitleaks' rules report). When one of ami-audit's
// rules finds a secret another rule found on the same line, the other
// rule's match is kept (gitleaks' before ami-audit's, a specific rule
// before a generic one, then the first rule id). Line is the file's line
// (counted from Fragment.StartLine); Start and End are the offsets in
// Text of the secret, or of its line when the secret was found decoded.
// A finding of a path rule alone (a file that is itself a secret, such as
// a .p12) has PathOnly set, Line 0 and no offsets. Unlike Find, markers
// left by Mask get no special treatment: FindFragment scans files, not
// records. It is safe for concurrent use.
func (d *Detector) FindFragment(ctx context.Context, f Fragment) []Match {
	if f.Text == "" && f.Path == "" {
		return nil
	}
	if d.Allowlisted(f.Path, f.Commit) {
		return nil
	}
	start := max(f.StartLine, 1)
	scan, own := d.scanners()
	found := scan.DetectContext(ctx, detect.Fragment{Raw: f.Text, FilePath: f.Path, CommitSHA: f.Commit, StartLine: start})
	// ami-audit's rules have no path rules: the file's allowlists were
	// applied above, and are not tested again for this pass.
	found = append(found, own.DetectContext(ctx, detect.Fragment{Raw: f.Text, StartLine: start})...)
	if len(found) == 0 {
		return nil
	}
	lines := lineOffsets(f.Text)
	out := make([]Match, 0, len(found))
	kept := map[[2]string]int{} // (line, fingerprint) → index in out
	for _, g := range found {
		m := Match{RuleID: g.RuleID, Description: g.Description, Fingerprint: Fingerprint(d.key, g.Secret)}
		if strings.HasPrefix(g.Match, "file detected: ") {
			m.PathOnly = true
			m.Fingerprint = Fingerprint(d.key, "path:"+f.Path)
			out = append(out, m)
			continue
		}
		m.Line, m.Column = g.StartLine, g.StartColumn
		if i := g.StartLine - start; i >= 0 && i < len(lines) {
			ls := lines[i]
			m.Start, m.End = ls, lineEnd(f.Text, ls)
			if j := strings.Index(f.Text[ls:], g.Secret); g.Secret != "" && j >= 0 {
				m.Start, m.End = ls+j, ls+j+len(g.Secret)
			}
		}
		// gitleaks' own findings all stay (it reports two rules finding
		// one secret twice); one of ami-audit's rules that finds the same
		// secret on the same line as another rule adds nothing.
		k := [2]string{strconv.Itoa(m.Line), m.Fingerprint}
		if i, dup := kept[k]; dup && (isOwnRule(m.RuleID) || isOwnRule(out[i].RuleID)) {
			if preferred(m.RuleID, out[i].RuleID) {
				out[i] = m
			}
			continue
		}
		if _, dup := kept[k]; !dup {
			kept[k] = len(out)
		}
		out = append(out, m)
	}
	return out
}

// preferred reports whether rule a names a secret better than rule b:
// gitleaks' rules before ami-audit's own, specific before generic, then
// the first in order.
func preferred(a, b string) bool {
	ao, bo := isOwnRule(a), isOwnRule(b)
	ag, bg := strings.Contains(a, "generic"), strings.Contains(b, "generic")
	switch {
	case ao != bo:
		return bo
	case ag != bg:
		return bg
	}
	return a < b
}

func isOwnRule(id string) bool {
	for _, r := range ownRules {
		if r.ID == id {
			return true
		}
	}
	return false
}

// lineOffsets returns the offset where each line of text starts.
func lineOffsets(text string) []int {
	offs := []int{0}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			offs = append(offs, i+1)
		}
	}
	return offs
}

func lineEnd(text string, from int) int {
	if i := strings.IndexByte(text[from:], '\n'); i >= 0 {
		return from + i
	}
	return len(text)
}

// Allowlisted reports whether the configuration's global allowlists pass
// over a file (or a file in a commit) as a whole, as gitleaks checks
// before it reads a fragment. FindFragment asks it first; it serves too
// for a finding made without the rules (a private key file recognised by
// IsPrivateKey), which must be passed over where the rules' would be.
func (d *Detector) Allowlisted(path, commit string) bool {
	if path == "" && commit == "" {
		return false
	}
	if path != "" {
		if v, ok := d.allowedPaths.Load(path); ok {
			if v.(bool) {
				return true
			}
		} else {
			allowed := false
			for _, a := range d.fileAllow {
				if a.PathAllowed(path) {
					allowed = true
					break
				}
			}
			if d.cachedPaths.Add(1) <= maxCachedPaths {
				d.allowedPaths.Store(path, allowed)
			}
			if allowed {
				return true
			}
		}
	}
	for _, a := range d.fileAllow {
		if ok, _ := a.CommitAllowed(commit); ok {
			return true
		}
	}
	// Allowlists whose conditions must all hold: those of paths and
	// commits alone decide here too; the others, per finding.
	for _, a := range d.scanCfg.Allowlists {
		if a.MatchCondition != config.AllowlistMatchAnd || len(a.Regexes) > 0 || len(a.StopWords) > 0 || (len(a.Commits) == 0 && len(a.Paths) == 0) {
			continue
		}
		commitOK, _ := a.CommitAllowed(commit)
		if (len(a.Commits) == 0 || commitOK) && (len(a.Paths) == 0 || a.PathAllowed(path)) {
			return true
		}
	}
	return false
}

// maxCachedPaths bounds the paths whose allowlist verdict is kept (a path
// takes about a hundred bytes): a larger history pays the patterns for the
// others.
const maxCachedPaths = 200_000
