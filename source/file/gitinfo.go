package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
)

// gitCommit is the last commit that touched a file.
type gitCommit struct {
	Hash, Author, Email, Date string
}

func (c *gitCommit) context() map[string]any {
	return map[string]any{"commit": c.Hash, "author": c.Author, "email": c.Email, "date": c.Date}
}

// gitHistory answers "which commit last touched this path" for one
// repository. It runs one `git log --name-only` over the history (limited
// to pathspec) the first time it is asked, streaming the output and
// keeping, for each path, the newest commit that lists it. Memory grows
// with the number of distinct paths in that history, not with the number
// of commits. Merge commits list no files (git log shows no diff for them
// by default), so a path changed only by a merge resolution is attributed
// to the commit before it.
type gitHistory struct {
	dir      string // repository top level
	pathspec string // "" for the whole repository
	maxCount int    // 0: no limit

	once    sync.Once
	err     error
	commits []gitCommit
	byPath  map[string]int32
}

func (g *gitHistory) lookup(ctx context.Context, path string) (*gitCommit, error) {
	g.once.Do(func() { g.err = g.load(ctx) })
	if g.err != nil {
		return nil, g.err
	}
	i, ok := g.byPath[path]
	if !ok {
		return nil, nil
	}
	return &g.commits[i], nil
}

// gitLogFormat starts each commit with an empty NUL-terminated field: file
// names are never empty, so the commit boundary cannot be confused with a
// file called anything at all.
const gitLogFormat = "--format=%x00%H%x00%an%x00%ae%x00%aI"

func (g *gitHistory) load(ctx context.Context) error {
	args := []string{"-C", g.dir, "-c", "core.quotePath=false", "log", "--name-only", "-z", "--no-renames", gitLogFormat}
	if g.maxCount > 0 {
		args = append(args, fmt.Sprintf("--max-count=%d", g.maxCount))
	}
	args = append(args, "--")
	if g.pathspec != "" {
		args = append(args, ":(literal)"+g.pathspec)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git log in %s: %w", g.dir, err)
	}
	g.byPath = map[string]int32{}
	perr := g.parse(out)
	if perr != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if perr != nil {
		return fmt.Errorf("git log in %s: %w", g.dir, perr)
	}
	if werr != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "does not have any commits") {
			return nil // an empty repository: nothing is committed
		}
		return fmt.Errorf("git log in %s: %w: %s", g.dir, werr, msg)
	}
	return nil
}

// parse reads the NUL-separated fields of gitLogFormat with --name-only -z:
//
//	"" hash author email date "\n"name name ... "" hash ...
func (g *gitHistory) parse(r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	next := func() (string, error) {
		s, err := br.ReadString(0)
		if err == io.EOF && s == "" {
			return "", io.EOF
		}
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimSuffix(s, "\x00"), nil
	}
	tok, err := next()
	for err == nil {
		if tok != "" {
			return fmt.Errorf("unexpected output %q", truncate(tok, 60))
		}
		var f [4]string
		for i := range f {
			if f[i], err = next(); err != nil {
				return fmt.Errorf("truncated commit header: %w", err)
			}
		}
		for i := range f {
			f[i] = strings.ToValidUTF8(f[i], "\uFFFD")
		}
		g.commits = append(g.commits, gitCommit{Hash: f[0], Author: f[1], Email: f[2], Date: f[3]})
		idx := int32(len(g.commits) - 1)
		used := false
		first := true
		for {
			tok, err = next()
			if err != nil || tok == "" {
				break
			}
			if first {
				tok = strings.TrimPrefix(tok, "\n")
				first = false
				if tok == "" {
					continue
				}
			}
			if _, dup := g.byPath[tok]; !dup {
				g.byPath[tok] = idx
				used = true
			}
		}
		if !used {
			// no path needs this commit: drop it to keep memory to the
			// commits that are answers
			g.commits = g.commits[:len(g.commits)-1]
		}
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return len(p), nil
}
