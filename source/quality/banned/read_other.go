//go:build !unix

package banned

import (
	"fmt"
	"os"
)

// readFile reads a file into buf; content larger than MaxFileSize is not
// read.
func readFile(name string, buf []byte) (content, newBuf []byte, err error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, buf, err
	}
	if fi.Size() > MaxFileSize {
		return nil, buf, fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
	}
	b, err := os.ReadFile(name)
	return b, buf, err
}
