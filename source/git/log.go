package git

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Commit is one commit as git log reports it. Strings hold git's bytes as
// they are (possibly invalid UTF-8); records escape them.
type Commit struct {
	// Repo is the record target of the repository the commit belongs to:
	// "." or a submodule path.
	Repo           string
	Hash           string
	Parents        []string
	AuthorName     string
	AuthorEmail    string
	AuthorTime     time.Time
	CommitterName  string
	CommitterEmail string
	CommitTime     time.Time
	// Signature is git's %G? letter: N no signature, G good, B bad, U good
	// with unknown validity, X/Y expired signature/key, R revoked key, E
	// cannot be checked. Empty when signatures were not checked.
	Signature  string
	Signer     string
	SigningKey string
	// Message is the whole message (subject, blank line, body). Git stops
	// a message at its first NUL byte.
	Message string
	Files   []FileChange
	// New reports whether this run recorded the commit (false when the
	// trail already held it).
	New bool
}

// FileChange is one file changed by a commit.
type FileChange struct {
	Path    string
	OldPath string // the path before a rename, else empty
	Added   int64
	Removed int64
	Binary  bool
	// Gitlink: the path is a submodule's pointer (a gitlink), so the
	// change moved the submodule to another commit; its line counts are
	// the one "Subproject commit" line, not content churn.
	Gitlink bool
	// Blob is the object id of the content after the change (git's
	// --raw); empty for a deletion, a gitlink or when unknown.
	Blob string
	// Size is the byte size of that content when Sized (resolved with
	// git cat-file after the walk read the commit).
	Size  int64
	Sized bool
}

// rawEntry is one --raw entry: modes, the new object and the new path.
type rawEntry struct {
	oldMode, newMode string
	blob, path       string
}

// Subject is the message's first paragraph on one line, as git's %s.
func (c *Commit) Subject() string {
	s, _ := splitMessage(c.Message)
	return s
}

// Body is the message after the subject, trimmed.
func (c *Commit) Body() string {
	_, b := splitMessage(c.Message)
	return b
}

// Merge reports whether the commit has more than one parent.
func (c *Commit) Merge() bool { return len(c.Parents) > 1 }

// Author is the name the source uses as actor: the e-mail, else the name.
func (c *Commit) Author() string {
	if strings.TrimSpace(c.AuthorEmail) != "" {
		return c.AuthorEmail
	}
	if strings.TrimSpace(c.AuthorName) != "" {
		return c.AuthorName
	}
	return "unknown"
}

// Lines returns the lines added and removed over all files.
func (c *Commit) Lines() (added, removed int64) {
	for _, f := range c.Files {
		added = min(added+f.Added, maxSafe)
		removed = min(removed+f.Removed, maxSafe)
	}
	return added, removed
}

// maxSafe is the largest count a record holds (2^53-1, exact in JSON).
const maxSafe = 1<<53 - 1

func splitMessage(m string) (subject, body string) {
	m = strings.TrimLeft(m, "\n")
	subj, rest, _ := strings.Cut(m, "\n\n")
	subj = strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(subj, "\n"), "\n", " "))
	return subj, strings.TrimSpace(rest)
}

// logFormat is the --format of the log the parser reads: a 0x01 byte
// that no --numstat entry can start with, then NUL-terminated fields, the
// message last. With -z git ends the format with NUL and, when the commit
// changed files, a newline before the NUL-terminated --numstat entries.
const logFormat = "%x01%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%G?%x00%GS%x00%GK%x00%B"

// logFormatNoSig is logFormat without the signature check.
const logFormatNoSig = "%x01%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%x00%x00%x00%B"

// maxField bounds the bytes kept of one field (a message); the rest is
// read and dropped.
const maxField = 8 << 20

// ErrLogFormat is wrapped by every error about unexpected git log output.
var ErrLogFormat = errors.New("unexpected git log output")

// logParser reads `git log -z --numstat --format=logFormat` output one
// commit at a time.
type logParser struct {
	r       *bufio.Reader
	n       int   // commits parsed
	off     int64 // bytes consumed
	scratch []byte
	last    string // hash of the last commit parsed, for errors
	raw     []rawEntry
}

func newLogParser(r io.Reader) *logParser {
	return &logParser{r: bufio.NewReaderSize(r, 256<<10)}
}

func (p *logParser) errorf(format string, args ...any) error {
	where := fmt.Sprintf("byte %d", p.off)
	if p.last != "" {
		where += fmt.Sprintf(", after commit %s", p.last)
	}
	return fmt.Errorf("%w (commit %d, %s): %s", ErrLogFormat, p.n+1, where, fmt.Sprintf(format, args...))
}

// field reads up to the next NUL and returns the bytes before it. The
// slice is valid until the next call. io.ErrUnexpectedEOF when the input
// ends first.
func (p *logParser) field() ([]byte, error) {
	b, err := p.r.ReadSlice(0)
	p.off += int64(len(b))
	if err == nil {
		return b[:len(b)-1], nil
	}
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	p.scratch = append(p.scratch[:0], b...)
	for {
		b, err = p.r.ReadSlice(0)
		p.off += int64(len(b))
		if len(p.scratch) < maxField {
			room := min(len(b), maxField-len(p.scratch))
			p.scratch = append(p.scratch, b[:room]...)
		}
		switch err {
		case nil:
			if n := len(p.scratch); n > 0 && p.scratch[n-1] == 0 {
				return p.scratch[:n-1], nil
			}
			return p.scratch, nil
		case bufio.ErrBufferFull:
		case io.EOF:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// Next parses the next commit into c, reusing its Files and Parents. It
// returns io.EOF when the log ends cleanly.
func (p *logParser) Next(c *Commit) error {
	// Skip the newlines git may put between records.
	for {
		b, err := p.r.ReadByte()
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
		p.off++
		if b == '\n' {
			continue
		}
		if b != 1 {
			return p.errorf("commit does not start with the format marker (byte %#x)", b)
		}
		break
	}
	var fields [12]string
	for i := range fields {
		f, err := p.field()
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				return p.errorf("log ends inside a commit header (field %d of %d)", i+1, len(fields))
			}
			return err
		}
		fields[i] = string(f)
	}
	hash := fields[0]
	if !isHex(hash) {
		return p.errorf("bad commit hash %q", clip(hash))
	}
	*c = Commit{
		Repo:           c.Repo,
		Hash:           hash,
		Parents:        c.Parents[:0],
		AuthorName:     fields[2],
		AuthorEmail:    fields[3],
		AuthorTime:     parseGitTime(fields[4]),
		CommitterName:  fields[5],
		CommitterEmail: fields[6],
		CommitTime:     parseGitTime(fields[7]),
		Signature:      fields[8],
		Signer:         fields[9],
		SigningKey:     fields[10],
		Message:        fields[11],
		Files:          c.Files[:0],
	}
	for par := range strings.FieldsSeq(fields[1]) {
		if !isHex(par) {
			return p.errorf("commit %s: bad parent hash %q", hash, clip(par))
		}
		c.Parents = append(c.Parents, par)
	}
	p.last = hash
	p.n++
	p.raw = p.raw[:0]
	// --raw entries (when asked for), then --numstat entries, until the
	// next marker or the end.
	for {
		b, err := p.r.Peek(1)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch b[0] {
		case 1:
			return nil
		case '\n':
			p.r.ReadByte()
			p.off++
			continue
		case ':':
			if err := p.rawEntry(c); err != nil {
				return err
			}
			continue
		}
		if err := p.numstat(c); err != nil {
			return err
		}
	}
}

// numstat parses one entry: "added\tremoved\tpath" or, for a rename,
// "added\tremoved\t" followed by the old and new paths as fields.
func (p *logParser) numstat(c *Commit) error {
	f, err := p.field()
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return p.errorf("commit %s: log ends inside a --numstat entry", c.Hash)
		}
		return err
	}
	a, rest, ok1 := bytes.Cut(f, []byte{'\t'})
	d, path, ok2 := bytes.Cut(rest, []byte{'\t'})
	if !ok1 || !ok2 {
		return p.errorf("commit %s: bad --numstat entry %q", c.Hash, clip(string(f)))
	}
	fc := FileChange{}
	switch {
	case string(a) == "-" && string(d) == "-":
		fc.Binary = true
	default:
		if fc.Added, err = parseCount(a); err == nil {
			fc.Removed, err = parseCount(d)
		}
		if err != nil {
			return p.errorf("commit %s: bad line count in --numstat entry %q", c.Hash, clip(string(f)))
		}
	}
	if len(path) > 0 {
		fc.Path = string(path)
	} else {
		old, err := p.field()
		if err != nil {
			return p.errorf("commit %s: log ends inside a rename entry", c.Hash)
		}
		fc.OldPath = string(old)
		nw, err := p.field()
		if err != nil {
			return p.errorf("commit %s: log ends inside a rename entry", c.Hash)
		}
		fc.Path = string(nw)
		if fc.Path == "" || fc.OldPath == "" {
			return p.errorf("commit %s: rename entry with an empty path", c.Hash)
		}
	}
	p.attachRaw(&fc, len(c.Files))
	c.Files = append(c.Files, fc)
	return nil
}

// zeroOID is git's object id of nothing (a deletion's new side).
func zeroOID(s string) bool { return strings.Trim(s, "0") == "" }

// rawEntry parses one --raw entry: ":oldmode newmode oldoid newoid
// status", then the path, or the old and new paths for a rename or copy.
func (p *logParser) rawEntry(c *Commit) error {
	f, err := p.field()
	if err != nil {
		return p.errorf("commit %s: log ends inside a --raw entry", c.Hash)
	}
	parts := strings.Fields(string(f[1:]))
	if len(parts) != 5 || !isHex(parts[2]) && !zeroOID(parts[2]) || !isHex(parts[3]) && !zeroOID(parts[3]) || parts[4] == "" {
		return p.errorf("commit %s: bad --raw entry %q", c.Hash, clip(string(f)))
	}
	e := rawEntry{oldMode: parts[0], newMode: parts[1]}
	if !zeroOID(parts[3]) {
		e.blob = parts[3]
	}
	path, err := p.field()
	if err != nil {
		return p.errorf("commit %s: log ends inside a --raw entry", c.Hash)
	}
	if st := parts[4][0]; st == 'R' || st == 'C' {
		if path, err = p.field(); err != nil {
			return p.errorf("commit %s: log ends inside a --raw rename entry", c.Hash)
		}
	}
	e.path = string(path)
	p.raw = append(p.raw, e)
	return nil
}

// attachRaw copies what the --raw entry of the i-th file says (its new
// object, whether it is a gitlink) to fc. git lists both in the same
// order; the path is checked, and looked up when the order differs.
func (p *logParser) attachRaw(fc *FileChange, i int) {
	if len(p.raw) == 0 {
		return
	}
	var e *rawEntry
	if i < len(p.raw) && p.raw[i].path == fc.Path {
		e = &p.raw[i]
	} else {
		for j := range p.raw {
			if p.raw[j].path == fc.Path {
				e = &p.raw[j]
				break
			}
		}
	}
	if e == nil {
		return
	}
	if e.oldMode == gitlinkMode || e.newMode == gitlinkMode {
		fc.Gitlink = true
		return
	}
	fc.Blob = e.blob
}

// gitlinkMode is the mode of a submodule pointer.
const gitlinkMode = "160000"

func parseCount(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 12 {
		return 0, strconv.ErrSyntax
	}
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, strconv.ErrSyntax
		}
		n = n*10 + int64(ch-'0')
	}
	return n, nil
}

func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// parseGitTime parses git's strict ISO 8601 date (%aI). A date git cannot
// express sensibly (a corrupt header) yields the zero time; records then
// keep the raw text.
func parseGitTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}
	}
	return t
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
