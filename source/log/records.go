package log

import (
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return audit.FormatTime(t)
}

// put sets k to v unless v is nil.
func put(m map[string]any, k string, v any) {
	if v != nil {
		m[k] = v
	}
}

func (a *aggregator) base(action, target string, when time.Time) *audit.Record {
	r := audit.New(a.actor, action, target, audit.TargetLog)
	r.Source = Name
	if !when.IsZero() {
		r.Timestamp = when
	} else {
		r.Timestamp = a.now
	}
	return r
}

// filters describes the run's filters, for the records' context.
func (a *aggregator) filters(ctx map[string]any) {
	ctx["level_filter"] = string(a.cfg.Level)
	put(ctx, "since", ts(a.cfg.Since))
	put(ctx, "until", ts(a.cfg.Until))
	if a.cfg.Service != "" {
		ctx["service"] = a.cfg.Service
	}
}

func (a *aggregator) fileRecord(f *FileSummary) *audit.Record {
	when := f.Last
	if when.IsZero() {
		when = f.Modified
	}
	r := a.base(ActionFile, f.Path, when)
	c := map[string]any{
		"file":               f.Path,
		"format":             string(f.Format),
		"format_reason":      f.Reason,
		"bytes":              f.Bytes,
		"lines":              f.Lines,
		"entries":            f.Entries,
		"entries_in_window":  f.InWindow,
		"levels":             f.LevelCounts(),
		"blank_lines":        f.Blank,
		"section_headers":    f.Headers,
		"continuation_lines": f.Continuation,
		"malformed_lines":    f.Malformed,
		"truncated_lines":    f.Truncated,
		"invalid_utf8_lines": f.InvalidUTF8,
		"untimed_entries":    f.Untimed,
		"outside_window":     f.OutsideWindow,
		"unknown_levels":     f.UnknownLevel,
		"skipped":            f.Skipped,
		"incomplete":         f.Incomplete,
		"log_root":           a.target,
	}
	if f.PathEscaped {
		c["path_escaped"] = true
	}
	if f.KeyLines > 0 {
		c["private_key_lines"] = f.KeyLines
	}
	if f.Compression != "" {
		c["compression"] = f.Compression
	}
	put(c, "first_timestamp", ts(f.First))
	put(c, "last_timestamp", ts(f.Last))
	if f.AssumedZone != "" {
		c["assumed_zone"] = f.AssumedZone
	}
	if len(f.Warnings) > 0 {
		c["warnings"] = append([]string(nil), f.Warnings...)
		if f.moreWarnings > 0 {
			c["more_warnings"] = f.moreWarnings
		}
	}
	a.filters(c)
	r.Context = c
	switch {
	case f.Skipped || f.Incomplete:
		r.Severity = audit.SeverityWarning
		r.Reason = "log file could not be read in full"
	default:
		r.Severity = audit.SeverityInfo
	}
	r.Normalize()
	return r
}

func (a *aggregator) patternRecord(p *Pattern) *audit.Record {
	r := a.base(ActionPattern, a.target, p.Last)
	examples := make([]any, 0, len(p.Examples))
	for _, e := range p.Examples {
		ex := map[string]any{"file": e.File, "line": e.Line, "text": e.Text}
		put(ex, "timestamp", ts(e.Time))
		examples = append(examples, ex)
	}
	files := make(map[string]any, len(p.Files))
	for f, n := range p.Files {
		files[f] = n
	}
	c := map[string]any{
		"pattern_id":   p.ID,
		"pattern_hash": p.Key,
		"template":     p.Template,
		"count":        p.Count,
		"level":        string(p.Level),
		"levels":       levelMap(p.Levels),
		"untimed":      p.Untimed,
		"examples":     examples,
		"files":        files,
		"evicted":      p.Evicted,
		"miner": map[string]any{
			"algorithm":            "drain",
			"similarity_threshold": a.miner.Config().SimThreshold,
			"depth":                a.miner.Config().Depth,
			"max_patterns":         a.miner.Config().MaxClusters,
		},
	}
	if p.OtherFiles > 0 {
		c["other_files_lines"] = p.OtherFiles
	}
	put(c, "first_seen", ts(p.First))
	put(c, "last_seen", ts(p.Last))
	a.filters(c)
	r.Context = c
	r.Severity = p.Level
	r.Normalize()
	return r
}

func (a *aggregator) burstRecord(b Burst) *audit.Record {
	r := a.base(ActionBurst, a.target, b.Start)
	dom := make([]any, 0, len(b.Dominant))
	for _, d := range b.Dominant {
		dom = append(dom, map[string]any{"pattern_hash": templateHash(d.Template), "template": d.Template, "at_least": d.AtLeast})
	}
	c := map[string]any{
		"start":              audit.FormatTime(b.Start),
		"end":                audit.FormatTime(b.End),
		"duration_seconds":   b.End.Sub(b.Start).Seconds(),
		"errors":             b.Errors,
		"peak_window_errors": b.Peak,
		"dominant_patterns":  dom,
		"rule": map[string]any{
			"min_errors":         a.cfg.BurstMin,
			"window_seconds":     a.cfg.BurstWindow.Seconds(),
			"level":              string(a.cfg.BurstLevel),
			"resolution_seconds": time.Duration(a.hist.res).Seconds(),
		},
	}
	a.filters(c)
	r.Context = c
	r.Severity = audit.SeverityError
	r.Reason = "many errors in a short time"
	r.Normalize()
	return r
}

func (a *aggregator) entryRecord(file string, e *entry, patternID int64) *audit.Record {
	var when time.Time
	if e.hasTime {
		when = time.Unix(0, e.ns).UTC()
	}
	r := a.base(ActionEntry, file, when)
	if e.logger != "" {
		r.Actor = e.logger
	}
	c := map[string]any{
		"file":    file,
		"line":    e.line,
		"message": e.msg,
		"level":   string(e.lv.severity()),
	}
	if patternID != 0 {
		c["pattern_id"] = patternID // entries read one by one are not mined
	}
	if !e.hasTime {
		c["untimed"] = true
	}
	if e.logger != "" {
		c["logger"] = e.logger
	}
	if e.section != "" {
		c["section"] = e.section
	}
	r.Context = c
	r.Severity = e.lv.severity()
	r.Normalize()
	return r
}
