package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a commitment to the first Size records of the log named
// Origin: the Merkle tree hash Root. Its text form is the body of a C2SP
// tlog-checkpoint; signed, it is a C2SP signed note.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
}

// ErrCheckpoint is wrapped by every checkpoint parsing error.
var ErrCheckpoint = errors.New("malformed checkpoint")

// Text is the checkpoint body: origin, size and base64 root, one per line.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint reads a checkpoint body. Extension lines after the root
// are allowed and ignored, as C2SP tlog-checkpoint says.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return c, fmt.Errorf("%w: want origin, size and root hash lines", ErrCheckpoint)
	}
	if lines[0] == "" {
		return c, fmt.Errorf("%w: empty origin line", ErrCheckpoint)
	}
	c.Origin = lines[0]
	n, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || (lines[1] != "0" && strings.HasPrefix(lines[1], "0")) {
		return c, fmt.Errorf("%w: tree size %q is not a decimal number", ErrCheckpoint, lines[1])
	}
	c.Size = n
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != 32 {
		return c, fmt.Errorf("%w: root hash %q is not 32 bytes of base64", ErrCheckpoint, lines[2])
	}
	copy(c.Root[:], h)
	return c, nil
}

// Sign returns the checkpoint as a signed note.
func (c Checkpoint) Sign(signers ...note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Text()}, signers...)
}

// OpenCheckpoint checks a signed checkpoint against the known log keys and
// parses it. At least one signature must be by a known key.
func OpenCheckpoint(msg []byte, known note.Verifiers) (Checkpoint, *note.Note, error) {
	msg = bytes.TrimLeft(msg, "\r\n\t ")
	n, err := note.Open(msg, known)
	if err != nil {
		var unknown *note.UnknownVerifierError
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &unknown), errors.As(err, &unverified):
			return Checkpoint{}, nil, fmt.Errorf("checkpoint is not signed by a trusted log key (%v)", err)
		}
		return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	return c, n, err
}
