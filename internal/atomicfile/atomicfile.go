// Package atomicfile writes small files so that a reader never sees half
// of one, and a crash leaves the old content or the new, never a mix: the
// bytes go to a synced temporary file in the same directory, renamed over
// the old file.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with b, mode mode, atomically; the directory is
// created when missing.
func Write(path string, b []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
