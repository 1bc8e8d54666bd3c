package tail

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/ami-orchestrator/ami-audit/internal/atomicfile"
)

// stateVersion is the version of the state file's format.
const stateVersion = 1

// fpMax is how many first bytes of a file its fingerprint covers; fpMin
// is the least a fingerprint must cover to be matched without the inode.
const (
	fpMax = 1024
	fpMin = 32
)

// fileState is where the reading of one file stands.
type fileState struct {
	// Name is the file's name in records: where it was when first seen
	// (a rotated file keeps the name it was written under).
	Name string `json:"name"`
	// Path is where it is now, relative to the followed directory.
	Path string `json:"path"`
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	// Offset is the byte offset after the last line read; Line that
	// line's number.
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`
	// FP is the hex SHA-256 of the first FPLen bytes: a copy of the file,
	// or the file moved to another inode, is known by it.
	FP    string `json:"fp,omitempty"`
	FPLen int64  `json:"fp_len,omitempty"`
	// Format is the format detected from the first lines.
	Format string `json:"format,omitempty"`
	// Copy marks a file that is not read: a copy of another followed
	// file (copytruncate's), whose lines are the original's, or a file no
	// source reads (Excluded says why: a private key).
	Copy     bool   `json:"copy,omitempty"`
	Excluded string `json:"excluded,omitempty"`
}

// stateFile is the JSON of the state file.
type stateFile struct {
	Version int          `json:"version"`
	LogID   string       `json:"log_id,omitempty"`
	Root    string       `json:"root"`
	Files   []*fileState `json:"files"`
}

// loadState reads path; a missing file is an empty state (first is true).
func loadState(path, logID, root string) (files []*fileState, first bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, false, fmt.Errorf("%s: %w (remove it to follow the files from their end again)", path, err)
	}
	switch {
	case s.Version != stateVersion:
		return nil, false, fmt.Errorf("%s: state version %d, want %d", path, s.Version, stateVersion)
	case logID != "" && s.LogID != "" && s.LogID != logID:
		return nil, false, fmt.Errorf("%s holds the positions of log %s, not of this trail (log %s)", path, s.LogID, logID)
	case s.Root != root:
		return nil, false, fmt.Errorf("%s holds the positions of %s, not of %s", path, s.Root, root)
	}
	for _, f := range s.Files {
		if f == nil || f.Offset < 0 || f.Line < 0 || f.FPLen < 0 || f.FPLen > fpMax {
			return nil, false, fmt.Errorf("%s: a file entry is malformed", path)
		}
	}
	return s.Files, false, nil
}

// saveState writes the state atomically: a synced temporary file renamed
// over the old one.
func saveState(path, logID, root string, files []*fileState) error {
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, LogID: logID, Root: root, Files: files}, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// identity is a file's device and inode.
func identity(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// links is a file's number of names; 0 once it is deleted.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// fingerprint hashes the first n bytes of r; ok is false when r is
// shorter.
func fingerprint(r io.ReaderAt, n int64) (string, bool) {
	if n <= 0 {
		return "", true
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 0); err != nil {
		return "", false
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:]), true
}
