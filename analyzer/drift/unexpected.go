package drift

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/gitcmd"
)

// maxSubmoduleDepth bounds the nesting of submodules looked into.
const maxSubmoduleDepth = 8

// Unexpected is a change git does not account for.
type Unexpected struct {
	Path string // repository-relative
	// Kind is TypeUncommitted or TypeHidden.
	Kind string
	// Status is git's two-letter status (index, working tree) for an
	// uncommitted change; "assume-unchanged" or "skip-worktree" for a
	// hidden one.
	Status string
}

// FindUnexpected lists the tracked files of the repository at root, and of
// its initialised submodules, that differ from HEAD, and those git was told
// not to look at whose content differs from the index. It returns
// errNotChecked when root is not a git working tree.
func FindUnexpected(ctx context.Context, root string) ([]Unexpected, error) {
	if root == "" {
		return nil, fmt.Errorf("%w: no repository to look at", errNotChecked)
	}
	if _, err := gitcmd.Output(ctx, root, nil, "rev-parse", "--verify", "-q", "HEAD"); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s is not a git repository with commits", errNotChecked, root)
	}
	var out []Unexpected
	if err := walkRepo(ctx, root, "", 0, &out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Unexpected) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func walkRepo(ctx context.Context, dir, prefix string, depth int, out *[]Unexpected) error {
	status, err := gitcmd.Output(ctx, dir, nil, "status", "--porcelain=v2", "-z", "--untracked-files=no", "--ignore-submodules=all", "--no-renames")
	if err != nil {
		return err
	}
	for _, e := range parseStatus(status) {
		*out = append(*out, Unexpected{Path: prefix + e.path, Kind: TypeUncommitted, Status: e.xy})
	}
	listed, err := gitcmd.Output(ctx, dir, nil, "ls-files", "-v", "-z")
	if err != nil {
		return err
	}
	var hidden []string
	kinds := map[string]string{}
	for entry := range bytes.SplitSeq(listed, []byte{0}) {
		if len(entry) < 3 || entry[1] != ' ' {
			continue
		}
		tag, p := rune(entry[0]), string(entry[2:])
		switch {
		case tag == 'S':
			kinds[p] = "skip-worktree"
		case unicode.IsLower(tag):
			kinds[p] = "assume-unchanged"
		default:
			continue
		}
		if strings.ContainsAny(p, "\n\r") {
			continue // hash-object reads one path a line
		}
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			continue // not in the working tree (a sparse checkout leaves it out)
		}
		hidden = append(hidden, p)
	}
	if len(hidden) > 0 {
		changed, err := differsFromIndex(ctx, dir, hidden)
		if err != nil {
			return err
		}
		for _, p := range changed {
			*out = append(*out, Unexpected{Path: prefix + p, Kind: TypeHidden, Status: kinds[p]})
		}
	}
	if depth >= maxSubmoduleDepth {
		return nil
	}
	stage, err := gitcmd.Output(ctx, dir, nil, "ls-files", "--stage", "-z")
	if err != nil {
		return err
	}
	for entry := range bytes.SplitSeq(stage, []byte{0}) {
		meta, name, ok := bytes.Cut(entry, []byte{'\t'})
		if !ok || !bytes.HasPrefix(meta, []byte("160000 ")) {
			continue
		}
		sub := filepath.Join(dir, filepath.FromSlash(string(name)))
		if _, err := os.Stat(filepath.Join(sub, ".git")); err != nil {
			continue // not initialised
		}
		if err := walkRepo(ctx, sub, prefix+string(name)+"/", depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

type statusEntry struct{ xy, path string }

// parseStatus reads `git status --porcelain=v2 -z --no-renames` entries
// of tracked files: "1 XY sub mH mI mW hH hI path" and unmerged
// "u XY sub m1 m2 m3 mW h1 h2 h3 path". Submodule entries are left out.
func parseStatus(b []byte) []statusEntry {
	var out []statusEntry
	for entry := range bytes.SplitSeq(b, []byte{0}) {
		fields := 0
		switch {
		case bytes.HasPrefix(entry, []byte("1 ")):
			fields = 8
		case bytes.HasPrefix(entry, []byte("u ")):
			fields = 10
		default:
			continue
		}
		parts := strings.SplitN(string(entry), " ", fields+1)
		if len(parts) != fields+1 || !strings.HasPrefix(parts[2], "N") {
			continue
		}
		out = append(out, statusEntry{xy: parts[1], path: parts[fields]})
	}
	return out
}

// differsFromIndex returns the paths whose working-tree content hashes
// to another object than the index holds.
func differsFromIndex(ctx context.Context, dir string, paths []string) ([]string, error) {
	hashes, err := gitcmd.Output(ctx, dir, []byte(strings.Join(paths, "\n")+"\n"), "hash-object", "--stdin-paths")
	if err != nil {
		return nil, err
	}
	now := strings.Fields(string(hashes))
	if len(now) != len(paths) {
		return nil, fmt.Errorf("git hash-object in %s: %d hashes for %d paths", dir, len(now), len(paths))
	}
	stage, err := gitcmd.Output(ctx, dir, nil, append([]string{"ls-files", "--stage", "-z", "--"}, literal(paths)...)...)
	if err != nil {
		return nil, err
	}
	index := map[string]string{}
	for entry := range bytes.SplitSeq(stage, []byte{0}) {
		meta, name, ok := bytes.Cut(entry, []byte{'\t'})
		if f := strings.Fields(string(meta)); ok && len(f) >= 2 {
			index[string(name)] = f[1]
		}
	}
	var out []string
	for i, p := range paths {
		if h, ok := index[p]; ok && h != now[i] {
			out = append(out, p)
		}
	}
	return out, nil
}

// literal makes paths pathspecs that match only themselves.
func literal(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = ":(literal)" + p
	}
	return out
}

// unexpected reports what FindUnexpected finds.
func unexpected(ctx context.Context, root string, report func(audit.Detected) error) error {
	found, err := FindUnexpected(ctx, root)
	if err != nil {
		return err
	}
	for _, u := range found {
		d := audit.Detected{
			Key: "unexpected:" + u.Path, Check: CheckUnexpected, Target: u.Path, TargetType: audit.TargetFile,
			Evidence: map[string]any{"file": u.Path, "status": u.Status},
		}
		if u.Kind == TypeHidden {
			d.Finding = audit.Finding{FindingType: TypeHidden, Severity: audit.SeverityError,
				Description:    fmt.Sprintf("%s differs from what git holds, and git is told not to look (%s): a change git reports as none", u.Path, u.Status),
				Recommendation: "Run 'git update-index --no-assume-unchanged --no-skip-worktree " + u.Path + "' and see what changed; find out who hid it."}
		} else {
			d.Finding = audit.Finding{FindingType: TypeUncommitted, Severity: audit.SeverityWarning,
				Description:    fmt.Sprintf("%s differs from HEAD (git status %s): a change no commit explains", u.Path, u.Status),
				Recommendation: "Commit the change through review, or restore the file with 'git restore'."}
		}
		if err := report(d); err != nil {
			return err
		}
	}
	return nil
}
