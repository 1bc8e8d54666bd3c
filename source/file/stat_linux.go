//go:build linux

package file

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

// sysInfo is what the operating system adds to fs.FileInfo.
type sysInfo struct {
	ok       bool
	uid, gid uint32
	dev, ino uint64
	ctime    time.Time
	blocks   int64 // 512-byte blocks allocated
}

func sysStat(fi fs.FileInfo) sysInfo {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return sysInfo{}
	}
	return sysInfo{
		ok:     true,
		uid:    st.Uid,
		gid:    st.Gid,
		dev:    uint64(st.Dev),
		ino:    uint64(st.Ino),
		ctime:  time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
		blocks: int64(st.Blocks),
	}
}

// openFlags are added when opening a file to hash: a file that was
// replaced by a named pipe since it was listed must not block the open.
const openFlags = syscall.O_NONBLOCK

// noFollowFlag makes open fail on a symbolic link.
const noFollowFlag = syscall.O_NOFOLLOW

// dirFD is the descriptor of an open directory, for openAt.
func dirFD(f *os.File) int { return int(f.Fd()) }

// openAt opens name in the directory dirfd (abs is its full path, for
// errors and the returned file's name).
func openAt(dirfd int, name, abs string, flags int) (*os.File, error) {
	for {
		fd, err := syscall.Openat(dirfd, name, flags|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: abs, Err: err}
		}
		return os.NewFile(uintptr(fd), abs), nil
	}
}
