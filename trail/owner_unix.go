//go:build unix

package trail

import (
	"io/fs"
	"os"
	"syscall"
)

// foreignOwner reports whether fi belongs to neither the current user nor
// root.
func foreignOwner(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid != 0 && int(st.Uid) != os.Getuid()
}
