package trail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrUnsafeDir: the trail's directory is a symbolic link that leads
// nowhere, to something other than a directory, or to a directory that
// others may write.
var ErrUnsafeDir = errors.New("the trail's directory is not safe to use")

// checkDir looks at the trail's directory before anything is read from or
// written to it. When it is a symbolic link, the notice names the target;
// a link that leads nowhere or to something other than a directory is
// refused, and so is one to a directory that the group or others may
// write or that belongs to another user (other than root): whoever can
// write there could replace the trail's store and settings or take its
// signing key. A directory checked out of a repository as a link
// (.audit -> /tmp/x) would otherwise send the trail and its private key
// somewhere others control.
func checkDir(dir string) (notice string, err error) {
	fi, err := os.Lstat(dir)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return "", nil
	}
	link, _ := os.Readlink(dir)
	refuse := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s is a symbolic link to %s, "+format, append([]any{ErrUnsafeDir, dir, link}, args...)...)
	}
	target, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return refuse("which does not exist")
	}
	tfi, err := os.Stat(target)
	switch {
	case err != nil:
		return refuse("which cannot be used: %v", err)
	case !tfi.IsDir():
		return refuse("which is not a directory")
	case tfi.Mode().Perm()&0o022 != 0:
		return refuse("a directory the group or others may write (mode %04o); refusing to keep the trail there", tfi.Mode().Perm())
	case foreignOwner(tfi):
		return refuse("a directory that belongs to another user; refusing to keep the trail there")
	}
	return fmt.Sprintf("note: the trail's directory %s is a symbolic link to %s", dir, target), nil
}

// StoreLocation is the URL of the store cfg opens, without opening it:
// cfg.Store, else the store the directory's settings name, else SQLite in
// the directory.
func StoreLocation(cfg Config) string {
	settings, _, _ := loadSettings(cfg.Dir)
	t := &Trail{cfg: cfg, settings: settings}
	return t.location()
}
