package security

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/ami-orchestrator/ami-audit/internal/gitcmd"
)

// gitCommand runs git in dir with settings that keep its output stable and
// keep it from asking anything.
func gitCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	return gitcmd.Command(ctx, dir, []string{"diff.renames=false"}, args...)
}

// gitStream runs git and hands its standard output to read; when read
// returns early the process is stopped. The error names git's complaint.
func gitStream(ctx context.Context, dir string, args []string, read func(io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := gitCommand(ctx, dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git: %w", err)
	}
	rerr := read(out)
	if rerr != nil {
		cancel()
	} else {
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if rerr != nil {
		return rerr
	}
	if werr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("git %s in %s: %v: %s", args[0], dir, werr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// isWorkTree reports whether dir is the top of a git work tree (a
// repository or a submodule).
func isWorkTree(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, ".git"))
	return err == nil
}

// trailDir is the name of the trail's own directory, which nothing here
// reads.
const trailDir = ".audit"

// walkTree calls fn with every file of the working tree that git would
// commit: tracked files, and untracked ones that are not ignored, in the
// repository and, recursively, its checked-out submodules. Outside a git
// work tree every file is walked. Paths are slash paths relative to root;
// .git and the trail's directory (.audit) are never entered.
func walkTree(ctx context.Context, root string, fn func(rel string, fi fs.FileInfo) error) error {
	if !isWorkTree(root) {
		return walkDir(ctx, root, fn)
	}
	return walkRepo(ctx, root, "", fn)
}

func walkRepo(ctx context.Context, root, prefix string, fn func(rel string, fi fs.FileInfo) error) error {
	dir := filepath.Join(root, filepath.FromSlash(prefix))
	var subs []string
	last := ""
	err := gitStream(ctx, dir, []string{"ls-files", "-z", "--cached", "--others", "--exclude-standard"}, func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			name, err := br.ReadString(0)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			name = strings.TrimSuffix(name, "\x00")
			if name == last { // an unmerged file is listed once per stage, in a row
				continue
			}
			last = name
			rel := path.Join(prefix, name)
			if skipped(rel) {
				continue
			}
			fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
			if err != nil {
				continue // tracked but deleted in the working tree
			}
			if fi.IsDir() {
				if isWorkTree(filepath.Join(root, filepath.FromSlash(rel))) {
					subs = append(subs, rel)
				}
				continue
			}
			if err := fn(rel, fi); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return err
	}
	for _, s := range subs {
		if err := walkRepo(ctx, root, s, fn); err != nil {
			return err
		}
	}
	return nil
}

func walkDir(ctx context.Context, root string, fn func(rel string, fi fs.FileInfo) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory is skipped
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.Name() == ".git" || skipped(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		return fn(rel, fi)
	})
}

// skipped reports whether rel is in the trail's directory or a .git.
func skipped(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if part == trailDir || part == ".git" {
			return true
		}
	}
	return false
}
