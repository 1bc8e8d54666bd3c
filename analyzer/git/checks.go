package git

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

var weekdays = [7]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// frequency reports one commit_frequency finding per repository.
func (h *history) frequency(report func(audit.Detected) error) error {
	for _, repo := range slices.Sorted(maps.Keys(h.repos)) {
		rs := h.repos[repo]
		// Trend: the last window of the history against the one before.
		end := rs.last.Unix()
		w := int64(h.cfg.TrendWindow / time.Second)
		recent, previous := 0, 0
		for _, t := range rs.times {
			switch {
			case t > end-w:
				recent++
			case t > end-2*w:
				previous++
			}
		}
		trend, ratio := "steady", 0.0
		switch {
		case previous < 10:
			trend = "too little history to compare"
		default:
			ratio = float64(recent) / float64(previous)
			switch {
			case ratio < 0.5:
				trend = "falling"
			case ratio > 2:
				trend = "rising"
			}
		}
		peakD, peakH, peak := 0, 0, -1
		matrix := make([]any, 7)
		for d := range 7 {
			row := make([]any, 24)
			for hr := range 24 {
				n := rs.matrix[d][hr]
				row[hr] = n
				if n > peak {
					peakD, peakH, peak = d, hr, n
				}
			}
			matrix[d] = row
		}
		off := percent(rs.offHours, rs.commits)
		days := int(h.cfg.TrendWindow.Hours() / 24)
		desc := fmt.Sprintf("%s over %s, most at %s %02d:00–%02d:00 (author's time); %d%% on weekends or outside 07:00–20:00",
			plural.Count(rs.commits, "commit"), span(rs.first, rs.last), weekdays[peakD], peakH, peakH+1, off)
		if previous >= 10 {
			desc += fmt.Sprintf("; %d in the last %d days of the history against %d in the %d before (%s)", recent, days, previous, days, trend)
		}
		sev := audit.SeverityInfo
		rec := ""
		if trend == "falling" && ratio < 0.25 && previous >= 20 {
			sev = audit.SeverityWarning
			rec = "Activity fell to a quarter of what it was: check whether the repository is still maintained, and by whom."
		}
		ev := map[string]any{
			"repository": repo, "commits": rs.commits, "merges": rs.merges, "pointer_bumps": rs.pointerBumps,
			"weekday_hour": matrix, "peak_weekday": weekdays[peakD], "peak_hour": peakH,
			"off_hours_percent": off, "first": audit.FormatTime(rs.first), "last": audit.FormatTime(rs.last),
			"trend": trend, "trend_window_days": days, "recent_commits": recent, "previous_commits": previous,
		}
		if err := report(audit.Detected{
			Key: "frequency:" + repo, Check: CheckFrequency, Target: repo, TargetType: audit.TargetGit,
			Finding:  audit.Finding{FindingType: TypeFrequency, Severity: sev, Description: desc, Recommendation: rec},
			Evidence: ev,
		}); err != nil {
			return err
		}
	}
	return nil
}

func percent(n, of int) int {
	if of == 0 {
		return 0
	}
	return int(math.Round(100 * float64(n) / float64(of)))
}

// span says how long a period is, in days or weeks.
func span(a, b time.Time) string {
	d := b.Sub(a)
	switch {
	case d < 14*24*time.Hour:
		return plural.Count(int(d.Hours()/24)+1, "day")
	default:
		return plural.Count(int(d.Hours()/24/7)+1, "week")
	}
}

// ownership reports each module's author distribution and bus factor.
func (h *history) ownership(report func(audit.Detected) error) error {
	for _, mod := range slices.Sorted(maps.Keys(h.byModule)) {
		ms := h.byModule[mod]
		if ms.commits < h.cfg.Ownership.MinCommits {
			continue
		}
		type share struct {
			author string
			authorShare
		}
		var shares []share
		for a, s := range ms.authors {
			shares = append(shares, share{a, *s})
		}
		// Work is lines changed; in a module of binaries only (no lines),
		// commits.
		work := func(s share) int64 { return s.lines }
		total := ms.lines
		if total == 0 {
			work, total = func(s share) int64 { return int64(s.commits) }, 0
			for _, s := range shares {
				total += int64(s.commits)
			}
		}
		slices.SortFunc(shares, func(a, b share) int {
			return cmp.Or(cmp.Compare(work(b), work(a)), cmp.Compare(b.commits, a.commits), strings.Compare(a.author, b.author))
		})
		bus, acc := 0, int64(0)
		for _, s := range shares {
			bus++
			acc += work(s)
			if 2*acc > total {
				break
			}
		}
		top := shares[0]
		var list []any
		for _, s := range shares[:min(len(shares), 10)] {
			list = append(list, map[string]any{"author": s.author, "commits": s.commits, "lines": s.lines,
				"work_percent": percent(int(work(s)), int(total))})
		}
		ev := map[string]any{"module": mod, "commits": ms.commits, "lines": ms.lines, "authors": len(shares),
			"bus_factor": bus, "top_authors": list}
		d := audit.Detected{Key: "ownership:" + mod, Check: CheckOwnership, Target: mod, TargetType: audit.TargetModule, Evidence: ev}
		switch {
		case len(shares) == 1:
			d.Finding = audit.Finding{FindingType: TypeSoleAuthor, Severity: audit.SeverityWarning,
				Description:    fmt.Sprintf("every one of the %s to %s is by %s", plural.Count(ms.commits, "commit"), mod, top.author),
				Recommendation: "Have a second person review and change this module, so that its knowledge does not rest on one author."}
		case bus == 1:
			d.Finding = audit.Finding{FindingType: TypeLowBusFactor, Severity: audit.SeverityInfo,
				Description: fmt.Sprintf("bus factor 1: %s did %d%% of the work on %s (%s by %s)",
					top.author, percent(int(work(top)), int(total)), mod, plural.Count(ms.commits, "commit"), plural.Count(len(shares), "author")),
				Recommendation: "Spread changes and reviews of this module over more people."}
		default:
			d.Finding = audit.Finding{FindingType: TypeDistribution, Severity: audit.SeverityInfo,
				Description: fmt.Sprintf("bus factor %d: %s by %s; %s did %d%% of the work",
					bus, plural.Count(ms.commits, "commit"), plural.Count(len(shares), "author"), top.author, percent(int(work(top)), int(total)))}
		}
		if err := report(d); err != nil {
			return err
		}
	}
	return nil
}

// hotspots reports the files with the most revisions × complexity.
func (h *history) hotspots(report func(audit.Detected) error) error {
	if !h.haveMods {
		return fmt.Errorf("%w: no module records, so no complexity to weigh (run the module source)", errNotChecked)
	}
	type spot struct {
		e     *entity
		mf    module.FileFacts
		score int64
	}
	var spots []spot
	for i := range h.entities {
		e := &h.entities[i]
		mf, ok := h.layout.Files[e.name]
		if !ok || mf.Complexity <= 0 || e.revisions < h.cfg.Hotspots.MinRevisions {
			continue
		}
		spots = append(spots, spot{e, mf, int64(e.revisions) * mf.Complexity})
	}
	slices.SortFunc(spots, func(a, b spot) int {
		return cmp.Or(cmp.Compare(b.score, a.score), strings.Compare(a.e.name, b.e.name))
	})
	for i, s := range spots[:min(len(spots), h.cfg.Hotspots.Top)] {
		ev := map[string]any{"file": s.e.name, "rank": i + 1, "revisions": s.e.revisions, "churn": s.e.churn,
			"complexity": s.mf.Complexity, "code": s.mf.Code, "score": s.score, "module": s.mf.Module}
		if err := report(audit.Detected{
			Key: "hotspot:" + s.e.name, Check: CheckHotspots, Target: s.e.name, TargetType: audit.TargetFile,
			Finding: audit.Finding{FindingType: TypeHotspot, Severity: audit.SeverityWarning,
				Description: fmt.Sprintf("hotspot #%d: changed in %s (%d lines of churn) with complexity %d",
					i+1, plural.Count(s.e.revisions, "commit"), s.e.churn, s.mf.Complexity),
				Recommendation: "Complex code that keeps changing is where defects collect: simplify or split it, and test it well."},
			Evidence: ev,
		}); err != nil {
			return err
		}
	}
	return nil
}

// coupling reports code-maat's logical coupling.
func (h *history) coupling(root string, report func(audit.Detected) error) error {
	cfg := h.cfg.Coupling
	shared := map[uint64]int{}
	var set []int32
	for _, id := range h.changeSets {
		if id >= 0 {
			// An entity in fewer than MinShared kept change sets cannot
			// share MinShared with another.
			if h.entities[id].revsCS >= cfg.MinShared {
				set = append(set, id)
			}
			continue
		}
		slices.Sort(set)
		for i := range set {
			for j := i + 1; j < len(set); j++ {
				shared[uint64(set[i])<<32|uint64(set[j])]++
			}
		}
		set = set[:0]
	}
	type pair struct {
		a, b           *entity
		shared, degree int
		avg            float64
	}
	var pairs []pair
	for k, n := range shared {
		a, b := &h.entities[k>>32], &h.entities[uint32(k)]
		avg := float64(a.revsCS+b.revsCS) / 2
		degree := int(100 * float64(n) / avg)
		if avg < float64(cfg.MinRevisions) || n < cfg.MinShared || degree < cfg.MinDegree || degree > 100 {
			continue
		}
		if a.name > b.name {
			a, b = b, a
		}
		if root != "" && (!exists(root, a.name) || !exists(root, b.name)) {
			continue
		}
		pairs = append(pairs, pair{a, b, n, degree, avg})
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		return cmp.Or(cmp.Compare(y.degree, x.degree), cmp.Compare(y.shared, x.shared),
			strings.Compare(x.a.name, y.a.name), strings.Compare(x.b.name, y.b.name))
	})
	for _, p := range pairs[:min(len(pairs), cfg.Max)] {
		ma, mb := h.moduleOf(p.a.name), h.moduleOf(p.b.name)
		sev := audit.SeverityInfo
		rec := "Files that always change together may belong together, or share a dependency that should be made explicit."
		if ma != mb {
			sev = audit.SeverityWarning
			rec = "These files are in different modules yet change together: a dependency between " + ma + " and " + mb + " that no module boundary shows."
		}
		ev := map[string]any{"file": p.a.name, "coupled": p.b.name, "degree": p.degree, "shared_revisions": p.shared,
			"average_revisions": int(math.Ceil(p.avg)), "revisions": p.a.revsCS, "coupled_revisions": p.b.revsCS,
			"module": ma, "coupled_module": mb}
		if err := report(audit.Detected{
			Key: "coupling:" + p.a.name + "\x00" + p.b.name, Check: CheckCoupling, Target: p.a.name, TargetType: audit.TargetFile,
			Finding: audit.Finding{FindingType: TypeCoupling, Severity: sev,
				Description: fmt.Sprintf("%s and %s change together: %d%% coupling (%d shared of %d and %d revisions)",
					p.a.name, p.b.name, p.degree, p.shared, p.a.revsCS, p.b.revsCS),
				Recommendation: rec},
			Evidence: ev,
		}); err != nil {
			return err
		}
	}
	return nil
}

func exists(root, p string) bool {
	_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p)))
	return err == nil
}

// messageCheck notes a commit whose message breaks a rule.
func (h *history) messageCheck(c *commit) {
	r := h.cfg.Messages
	on := func(rule string) bool { return !slices.Contains(r.Disable, rule) }
	subject := strings.TrimSpace(c.subject)
	var broken []string
	switch {
	case subject == "" && !c.hasBody:
		if on(RuleEmpty) {
			broken = append(broken, RuleEmpty)
		}
	default:
		if on(RuleShort) && utf8.RuneCountInString(subject) < r.MinSubject {
			broken = append(broken, RuleShort)
		}
		if on(RuleVague) && vague(subject, r.Vague) {
			broken = append(broken, RuleVague)
		}
	}
	if on(RuleNoBody) && !c.hasBody && (c.lines >= int64(r.LargeLines) || c.nFiles >= r.LargeFiles) {
		broken = append(broken, RuleNoBody)
	}
	if len(broken) > 0 {
		h.bad = append(h.bad, badMessage{recordID: c.recordID, repo: c.repo, hash: c.hash, subject: subject,
			author: c.author, rules: broken, lines: c.lines, files: c.nFiles, when: c.time})
	}
}

// vague reports whether a subject is only one of the vague words.
func vague(subject string, words []string) bool {
	s := strings.ToLower(strings.TrimFunc(subject, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }))
	if s == "" {
		return true // only punctuation
	}
	return slices.Contains(words, s)
}

var ruleText = map[string]string{
	RuleEmpty:  "the message is empty",
	RuleShort:  "the subject is too short",
	RuleVague:  "the subject says nothing about the change",
	RuleNoBody: "a large change without a body explaining it",
}

func (h *history) reportMessages(report func(audit.Detected) error) error {
	for _, b := range h.bad {
		var why []string
		for _, r := range b.rules {
			why = append(why, ruleText[r])
		}
		sev := audit.SeverityInfo
		if slices.Contains(b.rules, RuleEmpty) {
			sev = audit.SeverityWarning
		}
		ev := map[string]any{"repository": b.repo, "commit": b.hash, "subject": b.subject, "author": b.author,
			"rules": slices.Clone(b.rules), "lines_changed": b.lines, "files_changed": b.files, "committed": audit.FormatTime(b.when)}
		if err := report(audit.Detected{
			Key: "message:" + b.repo + ":" + b.hash, Check: CheckMessages, Target: b.repo, TargetType: audit.TargetGit,
			Finding: audit.Finding{FindingType: TypeBadMessage, Severity: sev, Location: b.repo + "@" + short(b.hash),
				Description:    fmt.Sprintf("commit %s (%q): %s", short(b.hash), clip(b.subject, 60), strings.Join(why, "; ")),
				Recommendation: "Say what the change does and why, in a subject line of a few words and, for a large change, a body."},
			Evidence: ev, Records: []string{b.recordID},
		}); err != nil {
			return err
		}
	}
	return nil
}

// largeCheck notes a file change over the configured sizes.
func (h *history) largeCheck(c *commit, f *change) {
	if !f.sized || f.size < min(h.cfg.LargeFile, h.cfg.LargeBinary) {
		return
	}
	if f.size >= h.cfg.LargeFile || f.binary && f.size >= h.cfg.LargeBinary {
		h.large = append(h.large, largeFile{recordID: c.recordID, repo: c.repo, hash: c.hash, path: f.path,
			author: c.author, size: f.size, binary: f.binary, when: c.time})
	}
}

func (h *history) reportLarge(report func(audit.Detected) error) error {
	for _, l := range h.large {
		typ, what := TypeLargeFile, "file"
		if l.binary {
			typ, what = TypeLargeBinary, "binary file"
		}
		ev := map[string]any{"repository": l.repo, "commit": l.hash, "file": l.path, "size": l.size, "binary": l.binary,
			"author": l.author, "committed": audit.FormatTime(l.when)}
		if err := report(audit.Detected{
			Key: "large:" + l.repo + ":" + l.hash + ":" + l.path, Check: CheckLargeFiles, Target: l.path, TargetType: audit.TargetFile,
			Finding: audit.Finding{FindingType: typ, Severity: audit.SeverityWarning, Location: l.path + "@" + short(l.hash),
				Description:    fmt.Sprintf("commit %s added a %s of %s: %s", short(l.hash), what, bytesText(l.size), l.path),
				Recommendation: "Keep large and binary files out of git history (Git LFS, an artifact store); history keeps every version forever."},
			Evidence: ev, Records: []string{l.recordID},
		}); err != nil {
			return err
		}
	}
	return nil
}

func short(h string) string { return h[:min(len(h), 12)] }

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return plural.Count(int(n), "byte")
}
