// Package exclude is the one exclusion every source applies: what no
// source ever reads as content, whatever it is asked to collect.
//
//   - the trail's own directory: any directory named .audit, and the
//     directories given to New (wherever --audit-dir puts the trail);
//   - git's internals: any directory or file named .git (the file of a
//     submodule or worktree too), and any directory that is a git
//     repository's own directory (HEAD, objects/ and refs/ in it), such as
//     one a .git file points to;
//   - private keys: any file whose content is a private key
//     (secrets.IsPrivateKey: C2SP note keys, PEM keys of every kind,
//     OpenSSH, PuTTY, OpenPGP, age, DER).
//
// The first two are decided by path, before anything is opened; the
// third by a file's first bytes (Sniff bytes), before the rest is read.
// A source may still record that an excluded file exists (the file source
// records a private key file's size, mode and hash, never its content);
// it never records what such a file says.
//
// A nil *Rules applies the rules by name and content only.
package exclude

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/ami-orchestrator/ami-audit/secrets"
)

// Reasons a path is excluded, as sources report them.
const (
	ReasonTrail      = "the audit trail's own directory"
	ReasonGit        = "git internals"
	ReasonPrivateKey = "a private key"
)

// Sniff is how many first bytes of a file Content needs.
const Sniff = 4096

// TrailDirName is the default name of a trail's directory.
const TrailDirName = ".audit"

// Rules is the exclusion. It is safe for concurrent use.
type Rules struct {
	trails []string // absolute, cleaned; symlinks resolved when possible
}

// New returns the rules with the given trail directories excluded as
// well (relative paths are taken from the working directory).
func New(trailDirs ...string) *Rules {
	r := &Rules{}
	for _, d := range trailDirs {
		if d == "" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			continue
		}
		r.trails = append(r.trails, abs)
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			r.trails = append(r.trails, real)
		}
	}
	return r
}

// Dir says why the directory at path must not be entered, or "" when it
// may be. path may be relative; it is not resolved further.
func (r *Rules) Dir(path string) string {
	if why := r.Path(path); why != "" {
		return why
	}
	if isGitDir(path) {
		return ReasonGit
	}
	return ""
}

// Path says why the file or directory at path must not be read: it is,
// or is inside, an excluded directory, or it is a .git file. It looks at
// the path only.
func (r *Rules) Path(path string) string {
	clean := filepath.Clean(path)
	for p := clean; ; {
		switch filepath.Base(p) {
		case ".git":
			return ReasonGit
		case TrailDirName:
			return ReasonTrail
		}
		parent := filepath.Dir(p)
		if parent == p || parent == "." {
			break
		}
		p = parent
	}
	if r != nil && len(r.trails) > 0 {
		abs := clean
		if !filepath.IsAbs(abs) {
			var err error
			if abs, err = filepath.Abs(abs); err != nil {
				return ""
			}
		}
		for _, t := range r.trails {
			if abs == t || strings.HasPrefix(abs, t+string(filepath.Separator)) {
				return ReasonTrail
			}
		}
	}
	return ""
}

// Rel is Path for a slash-separated path relative to root.
func (r *Rules) Rel(root, rel string) string {
	return r.Path(filepath.Join(root, filepath.FromSlash(rel)))
}

// Content says why a file whose first bytes are head must not be read
// further, or "" when it may be.
func (r *Rules) Content(head []byte) string {
	if secrets.IsPrivateKey(head) {
		return ReasonPrivateKey
	}
	return ""
}

// File says why the file at path must not be read: by its path, else by
// its first bytes (it reads at most Sniff bytes). A file that cannot be
// read is not excluded here: reading it fails where the source reads it.
func (r *Rules) File(path string) string {
	if why := r.Path(path); why != "" {
		return why
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, Sniff)
	n, _ := f.Read(buf)
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	return r.Content(buf[:n])
}

// isGitDir reports whether dir is a git directory: HEAD, objects and refs
// in it, as git itself decides.
func isGitDir(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, "HEAD"))
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}
