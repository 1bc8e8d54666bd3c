//go:build !linux

package file

import (
	"io/fs"
	"os"
	"time"
)

type sysInfo struct {
	ok       bool
	uid, gid uint32
	dev, ino uint64
	ctime    time.Time
	blocks   int64
}

// sysStat knows nothing beyond fs.FileInfo on this system: owner, inode
// and change time are left out, and unchanged files are always re-hashed.
func sysStat(fs.FileInfo) sysInfo { return sysInfo{} }

const (
	openFlags    = 0
	noFollowFlag = 0
)

func dirFD(*os.File) int { return -1 }

// openAt opens abs by its path on this system.
func openAt(_ int, _, abs string, flags int) (*os.File, error) {
	return os.OpenFile(abs, flags, 0)
}
