//go:build unix

package banned

import (
	"fmt"
	"syscall"
)

// readFile reads a file into buf (grown as needed) with one open, one
// fstat, as few reads as its size needs and one close: the system calls
// grep makes, without registering the descriptor with the runtime's
// poller as os.Open does (regular files cannot be polled anyway). Content
// larger than MaxFileSize is not read.
func readFile(name string, buf []byte) (content, newBuf []byte, err error) {
	var fd int
	for {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, buf, fmt.Errorf("open %s: %w", name, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, buf, fmt.Errorf("stat %s: %w", name, err)
	}
	if st.Size > MaxFileSize {
		return nil, buf, fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
	}
	want := int(st.Size) + 1 // one more byte shows the file grew
	if cap(buf) < want {
		buf = make([]byte, 0, max(want, 64<<10))
	}
	buf = buf[:cap(buf)]
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, buf, fmt.Errorf("read %s: %w", name, err)
		}
		n += m
		if m == 0 || n < want {
			break // end of file (a regular file reads short only there)
		}
		if n == len(buf) {
			if n > MaxFileSize {
				return nil, buf, fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
			}
			buf = append(buf, 0)[:cap(buf)]
		}
	}
	return buf[:n], buf, nil
}
