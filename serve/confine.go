package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ami-orchestrator/ami-audit/internal/usererr"
)

// ErrOutside: a path a caller gave is not inside the repository served.
var ErrOutside = errors.New("is outside the repository served")

func resolveRoot(root string) (string, error) {
	if root == "" {
		return "", errors.New("serve: the repository served (Root) is needed")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("repository %s: %w", root, err)
	}
	return r, nil
}

// Confine returns the absolute path of p, a path a caller gave (relative
// to the repository served, or absolute), and its path relative to the
// repository ("." for the repository itself), after checking that it is
// inside the repository: a ".." element is refused outright, and the path
// is resolved through every symbolic link of its existing part, so that a
// link cannot lead out. The error is a usage error wrapping ErrOutside.
func (s *Service) Confine(p string) (abs, rel string, err error) {
	if p == "" {
		p = "."
	}
	if strings.ContainsRune(p, 0) {
		return "", "", usererr.Usage(fmt.Errorf("path %q: %w (it holds a NUL byte)", p, ErrOutside))
	}
	if slices.Contains(strings.FieldsFunc(filepath.ToSlash(p), func(r rune) bool { return r == '/' }), "..") {
		return "", "", usererr.Usage(fmt.Errorf("path %q: %w (\"..\" is not allowed)", p, ErrOutside))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.root, p)
	}
	p = filepath.Clean(p)
	resolved, err := resolveExisting(p)
	if err != nil {
		return "", "", err
	}
	rel, err = filepath.Rel(s.root, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", "", usererr.Usage(fmt.Errorf("path %q: %w (%s)", p, ErrOutside, s.root))
	}
	return resolved, filepath.ToSlash(rel), nil
}

// resolveExisting resolves the symbolic links of the longest existing
// prefix of p and joins the rest.
func resolveExisting(p string) (string, error) {
	rest := ""
	for cur := p; ; {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// exists reports whether p exists (without following a last link).
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
