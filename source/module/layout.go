package module

import (
	"context"
	"fmt"
	"slices"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Layout is what the newest module_audit record of each module says
// about the repository's files: which module holds a path, each module's
// lines of code, and the facts the records list per file (complexity of
// the largest and most complex files, lines not covered of the least
// covered ones). Analyzers read it instead of the records.
type Layout struct {
	// Modules are the module paths, sorted ("." for a root module).
	Modules []string
	// Code is each module's lines of code (scc's count).
	Code map[string]int64
	// Files are the files the records list, by repository path.
	Files map[string]FileFacts
	// Records maps each module to the record_id of its newest record.
	Records map[string]string

	byLength []string // module paths longest first, "." left out
}

// FileFacts are what module records say about one file.
type FileFacts struct {
	Module     string
	Code       int64 // lines of code; 0 when only its coverage is listed
	Complexity int64
	// Coverable and Uncovered are its lines a coverage report counts and
	// those not covered; Coverable is 0 when no report lists the file.
	Coverable, Uncovered int64
}

// ReadLayout reads the newest module_audit record of every module from
// the trail (one query). Modules listed but missing are left out.
func ReadLayout(ctx context.Context, q History) (*Layout, error) {
	l := &Layout{Code: map[string]int64{}, Files: map[string]FileFacts{}, Records: map[string]string{}}
	f := audit.Filter{TargetType: audit.TargetModule, Action: ActionAudit, Limit: -1, Newest: true}
	for r, err := range q.Query(ctx, f) {
		if err != nil {
			return nil, fmt.Errorf("read module records: %w", err)
		}
		if r.Source != SourceName {
			continue
		}
		if _, seen := l.Records[r.Target]; seen {
			continue
		}
		l.Records[r.Target] = r.RecordID
		if missing, _ := r.Context["missing"].(bool); missing {
			continue
		}
		l.add(r)
	}
	slices.Sort(l.Modules)
	for _, m := range l.Modules {
		if m != "." {
			l.byLength = append(l.byLength, m)
		}
	}
	slices.SortStableFunc(l.byLength, func(a, b string) int { return len(b) - len(a) })
	return l, nil
}

func (l *Layout) add(r *audit.Record) {
	mod := r.Target
	l.Modules = append(l.Modules, mod)
	if t, ok := r.Context["totals"].(map[string]any); ok {
		l.Code[mod] = audit.Int(t, "code")
	}
	for _, list := range []string{"top_files", "complex_files"} {
		files, _ := r.Context[list].([]any)
		for _, x := range files {
			m, _ := x.(map[string]any)
			p, _ := m["path"].(string)
			if p == "" {
				continue
			}
			ff := l.Files[p]
			ff.Module, ff.Code, ff.Complexity = mod, audit.Int(m, "code"), audit.Int(m, "complexity")
			l.Files[p] = ff
		}
	}
	if cov, ok := r.Context["coverage"].(map[string]any); ok {
		for _, list := range []string{"lowest", "most_uncovered"} {
			files, _ := cov[list].([]any)
			for _, x := range files {
				m, _ := x.(map[string]any)
				p, _ := m["path"].(string)
				if p == "" {
					continue
				}
				ff := l.Files[p]
				ff.Module = mod
				ff.Coverable = audit.Int(m, "total")
				ff.Uncovered = ff.Coverable - audit.Int(m, "covered")
				l.Files[p] = ff
			}
		}
	}
}

// ModuleOf names the module holding a repository path: the module with
// the longest path that holds it, else a root module ("."), else the
// path's top-level directory ("." for a file at the top). A nil Layout
// knows no module.
func (l *Layout) ModuleOf(p string) string {
	if l == nil {
		l = &Layout{}
	}
	for _, m := range l.byLength {
		if p == m || strings.HasPrefix(p, m+"/") {
			return m
		}
	}
	if slices.Contains(l.Modules, ".") {
		return "."
	}
	if i := strings.IndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "."
}
