package git

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Ref is a branch or tag.
type Ref struct {
	Name      string // short name: "main", "v1.0", "origin/main"
	Kind      string // "branch", "tag" or "remote"
	Commit    string // the commit it points to
	Annotated bool   // an annotated tag
}

// listRefs returns the branches, tags and remote-tracking branches of the
// repository in dir, and what HEAD is ("refs/heads/main", or a hash when
// detached, or "" when unborn).
func (s *Source) listRefs(ctx context.Context, dir string) (refs []Ref, head string, err error) {
	out, err := s.output(ctx, dir, "for-each-ref",
		"--format=%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)",
		"refs/heads", "refs/tags", "refs/remotes")
	if err != nil {
		return nil, "", err
	}
	for line := range bytes.SplitSeq(out, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		f := strings.Split(string(line), "\x00")
		if len(f) != 4 {
			return nil, "", fmt.Errorf("%w: for-each-ref in %s: unexpected line %q", ErrGit, dir, clip(string(line)))
		}
		ref := Ref{Commit: f[1]}
		switch name := f[0]; {
		case strings.HasPrefix(name, "refs/heads/"):
			ref.Kind, ref.Name = "branch", strings.TrimPrefix(name, "refs/heads/")
		case strings.HasPrefix(name, "refs/tags/"):
			ref.Kind, ref.Name = "tag", strings.TrimPrefix(name, "refs/tags/")
		case strings.HasPrefix(name, "refs/remotes/"):
			ref.Kind, ref.Name = "remote", strings.TrimPrefix(name, "refs/remotes/")
		default:
			continue
		}
		if f[2] == "tag" {
			ref.Annotated = true
			if f[3] != "" {
				ref.Commit = f[3]
			}
		}
		refs = append(refs, ref)
	}
	if sym, err := s.output(ctx, dir, "symbolic-ref", "-q", "HEAD"); err == nil {
		head = strings.TrimSpace(string(sym))
	} else if h, err := s.output(ctx, dir, "rev-parse", "--verify", "-q", "HEAD"); err == nil {
		head = strings.TrimSpace(string(h))
	}
	return refs, head, nil
}

// refsRecord returns the git_refs record of r, or nil when its branches,
// tags and HEAD are those of the last git_refs record. It runs before the
// walk, so that the lookup reads the trail before this run grows it.
func (s *Source) refsRecord(ctx context.Context, r repo) (*audit.Record, error) {
	refs, head, err := s.listRefs(ctx, r.dir)
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "HEAD\x00%s\n", head)
	var branches, tags, remotes []any
	for _, ref := range refs {
		fmt.Fprintf(sum, "%s\x00%s\x00%s\x00%t\n", ref.Kind, ref.Name, ref.Commit, ref.Annotated)
		m := map[string]any{"commit": ref.Commit}
		putText(m, "name", ref.Name)
		switch ref.Kind {
		case "branch":
			branches = append(branches, m)
		case "tag":
			m["annotated"] = ref.Annotated
			tags = append(tags, m)
		case "remote":
			remotes = append(remotes, m)
		}
	}
	digest := hex.EncodeToString(sum.Sum(nil))
	last, err := s.lastRecord(ctx, ActionRefs, r.target)
	if err != nil {
		return nil, emitError{err}
	}
	if last != nil && last.Context["digest"] == digest {
		return nil, nil
	}
	rec := audit.New(summaryActor, ActionRefs, r.target, audit.TargetGit)
	rec.Source = SourceName
	rec.Timestamp = s.cfg.now()
	c := map[string]any{
		"repository": r.target,
		"branches":   orEmpty(branches),
		"tags":       orEmpty(tags),
		"remotes":    orEmpty(remotes),
		"digest":     digest,
	}
	putText(c, "head", head)
	rec.Context = c
	rec.Normalize()
	return rec, nil
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}
