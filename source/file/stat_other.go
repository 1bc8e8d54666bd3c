//go:build !unix

package file

import (
	"io/fs"
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
