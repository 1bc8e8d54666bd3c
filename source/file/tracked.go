package file

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// tracked is the set of paths a repository's index holds (git ls-files),
// relative to its top level, and every directory above them. Ignore rules
// apply only to paths outside it: git tracks what it tracks, whatever
// .gitignore says, and so the file source audits it.
type tracked struct {
	files map[string]struct{}
	dirs  map[string]struct{}
	err   error
}

func (t *tracked) has(rel string) bool {
	_, ok := t.files[rel]
	return ok
}

func (t *tracked) hasUnder(dir string) bool {
	_, ok := t.dirs[dir]
	return ok
}

// loadTracked runs one `git ls-files -z` in the repository at top.
func loadTracked(ctx context.Context, top string) *tracked {
	t := &tracked{files: map[string]struct{}{}, dirs: map[string]struct{}{}}
	cmd := exec.CommandContext(ctx, "git", "-C", top, "ls-files", "-z", "--cached")
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.err = err
		return t
	}
	if err := cmd.Start(); err != nil {
		t.err = err
		return t
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(splitNUL)
	for sc.Scan() {
		p := sc.Text()
		t.files[p] = struct{}{}
		for d := p; ; {
			i := strings.LastIndexByte(d, '/')
			if i < 0 {
				break
			}
			d = d[:i]
			if _, ok := t.dirs[d]; ok {
				break
			}
			t.dirs[d] = struct{}{}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.err = fmt.Errorf("git ls-files: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return t
}

func splitNUL(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
