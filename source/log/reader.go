package log

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// readBufSize is the read buffer of each open log file.
const readBufSize = 64 << 10

// openLog opens path and, when its first bytes say it is compressed,
// decompresses it: gzip (including concatenated members, as logrotate
// writes) and bzip2. Other compressed formats are refused by name.
func openLog(path string) (r io.Reader, compression string, closeFn func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", nil, err
	}
	br := bufio.NewReaderSize(f, readBufSize)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, "gzip", nil, fmt.Errorf("gzip header: %w", err)
		}
		return zr, "gzip", f.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")) && len(magic) >= 4 && magic[3] >= '1' && magic[3] <= '9':
		return bzip2.NewReader(br), "bzip2", f.Close, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		f.Close()
		return nil, "xz", nil, errUnsupportedCompression
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		f.Close()
		return nil, "zstd", nil, errUnsupportedCompression
	}
	return br, "", f.Close, nil
}

var errUnsupportedCompression = errors.New("compression format not supported (gzip and bzip2 are)")

// lineReader reads lines of at most max bytes: a longer line is cut at max
// and the rest skipped without being held.
type lineReader struct {
	br   *bufio.Reader
	max  int
	long []byte // a long line's kept prefix
}

// next returns the next line without its newline, cut to max bytes, and
// the line's real length. It returns io.EOF after the last line; other
// errors are the stream's (a truncated gzip stream gives
// io.ErrUnexpectedEOF) and come with the partial last line, if any.
func (r *lineReader) next() (line []byte, size int64, err error) {
	line, err = r.br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], int64(len(line) - 1), nil
	}
	if err != bufio.ErrBufferFull {
		if len(line) > 0 && err == io.EOF {
			return line, int64(len(line)), nil
		}
		return line, int64(len(line)), err
	}
	if r.long == nil {
		r.long = make([]byte, 0, min(r.max, 1<<20))
	}
	r.long = append(r.long[:0], line[:min(len(line), r.max)]...)
	size = int64(len(line))
	for {
		line, err = r.br.ReadSlice('\n')
		size += int64(len(line))
		if room := r.max - len(r.long); room > 0 {
			r.long = append(r.long, line[:min(room, len(line))]...)
		}
		if err != bufio.ErrBufferFull {
			break
		}
	}
	if err == nil {
		size-- // the newline
		if int64(len(r.long)) > size {
			r.long = r.long[:size]
		}
	}
	if err == io.EOF {
		err = nil
	}
	return r.long, size, err
}

// sampleLines splits the first bytes of a file into lines for format
// detection: complete lines only, unless the sample is the whole file.
func sampleLines(b []byte, whole bool) [][]byte {
	var out [][]byte
	for len(b) > 0 && len(out) < detectSample*4 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if whole {
				out = append(out, b)
			}
			break
		}
		out = append(out, b[:i])
		b = b[i+1:]
	}
	if len(out) == 0 && len(b) > 0 {
		out = append(out, b) // one line longer than the sample: judge by its start
	}
	return out
}

// looksBinary reports whether a file's first bytes are not text: a NUL
// byte, or more than a tenth of control bytes or invalid UTF-8.
func looksBinary(b []byte) bool {
	if len(b) > 8192 {
		b = b[:8192]
	}
	if len(b) == 0 {
		return false
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	bad := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1b || c == 0x7f {
				bad++
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 && len(b)-i >= utf8.UTFMax {
			bad++
		}
		i += n
	}
	return bad*10 > len(b)
}

// stripANSI removes terminal colour sequences (ESC [ … letter) in place.
func stripANSI(b []byte) []byte {
	if bytes.IndexByte(b, 0x1b) < 0 {
		return b
	}
	out := b[:0]
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == ';' || b[j] == '?') {
				j++
			}
			if j < len(b) && (b[j] >= 'a' && b[j] <= 'z' || b[j] >= 'A' && b[j] <= 'Z') {
				i = j
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}
