package git

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Blame summarises who wrote the lines of one file at one revision.
type Blame struct {
	// Path is the file's path from the top repository.
	Path string
	// Revision is the commit blamed and RevisionTime its committer date;
	// line ages are measured from it.
	Revision     string
	RevisionTime time.Time
	Lines        int64
	Authors      []BlameAuthor // most lines first
	Ages         []BlameAge    // in AgeBuckets order
	Oldest       time.Time     // author date of the oldest line
	Newest       time.Time     // author date of the newest line
	// Digest identifies the attribution: the same digest means every line
	// comes from the same commit as before.
	Digest string
}

// BlameAuthor is one author's share of a file.
type BlameAuthor struct {
	Name, Email string
	Lines       int64
	Commits     int64 // distinct commits the author's lines come from
}

// BlameAge counts the lines whose age falls in one bucket.
type BlameAge struct {
	Bucket string
	Lines  int64
}

// AgeBuckets are the age classes of blamed lines, youngest first, each
// with its upper bound (exclusive; the last is unbounded).
var AgeBuckets = []struct {
	Name  string
	Under time.Duration
}{
	{"under 1 month", 30 * 24 * time.Hour},
	{"1-6 months", 182 * 24 * time.Hour},
	{"6-12 months", 365 * 24 * time.Hour},
	{"1-2 years", 730 * 24 * time.Hour},
	{"over 2 years", 0},
}

func ageBucket(age time.Duration) int {
	for i, b := range AgeBuckets {
		if b.Under == 0 || age < b.Under {
			return i
		}
	}
	return len(AgeBuckets) - 1
}

// maxLines bounds the line numbers blame output may hold.
const maxLines = 1 << 31

// ErrBlameFormat is wrapped by errors about unexpected git blame output.
var ErrBlameFormat = errors.New("unexpected git blame output")

// blameCommit is what blame says about one commit.
type blameCommit struct {
	name, email string
	time        time.Time
}

type blameGroup struct {
	hash       string
	final, num int64
}

// parseBlame reads `git blame --incremental` output.
func parseBlame(r io.Reader) (map[string]*blameCommit, []blameGroup, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	commits := map[string]*blameCommit{}
	var groups []blameGroup
	var cur *blameCommit
	lineNo := 0
	for {
		line, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		lineNo++
		if cur == nil {
			// "<hash> <orig line> <final line> <lines>"
			f := strings.Fields(line)
			if len(f) != 4 || !isHex(f[0]) {
				return nil, nil, fmt.Errorf("%w: line %d: expected a line group, got %q", ErrBlameFormat, lineNo, clip(line))
			}
			final, err1 := strconv.ParseInt(f[2], 10, 64)
			num, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil || final < 1 || num < 1 || final > maxLines || num > maxLines {
				return nil, nil, fmt.Errorf("%w: line %d: bad line numbers in %q", ErrBlameFormat, lineNo, clip(line))
			}
			groups = append(groups, blameGroup{hash: f[0], final: final, num: num})
			cur = commits[f[0]]
			if cur == nil {
				cur = &blameCommit{}
				commits[f[0]] = cur
			}
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "author":
			cur.name = val
		case "author-mail":
			cur.email = strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">")
		case "author-time":
			if sec, err := strconv.ParseInt(val, 10, 64); err == nil {
				cur.time = time.Unix(sec, 0).UTC()
			}
		case "filename":
			cur = nil // ends the group
		}
	}
	if cur != nil {
		return nil, nil, fmt.Errorf("%w: output ends inside a line group", ErrBlameFormat)
	}
	return commits, groups, nil
}

// readLine reads one line without its newline, keeping at most 64 KiB of
// it.
func readLine(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		b, err := br.ReadSlice('\n')
		if len(buf) < 64<<10 {
			buf = append(buf, b[:min(len(b), 64<<10-len(buf))]...)
		}
		switch err {
		case nil:
			return strings.TrimSuffix(string(buf), "\n"), nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(buf) == 0 {
				return "", io.EOF
			}
			return string(buf), nil
		default:
			return "", err
		}
	}
}

// summarizeBlame turns blame output into a Blame.
func summarizeBlame(commits map[string]*blameCommit, groups []blameGroup, revTime time.Time) Blame {
	slices.SortFunc(groups, func(a, b blameGroup) int { return cmp.Compare(a.final, b.final) })
	sum := sha256.New()
	type acc struct {
		BlameAuthor
		commits map[string]bool
	}
	byAuthor := map[string]*acc{}
	ages := make([]int64, len(AgeBuckets))
	var b Blame
	for _, g := range groups {
		fmt.Fprintf(sum, "%s %d %d\n", g.hash, g.final, g.num)
		c := commits[g.hash]
		key := c.email
		if key == "" {
			key = c.name
		}
		a := byAuthor[key]
		if a == nil {
			a = &acc{BlameAuthor: BlameAuthor{Name: c.name, Email: c.email}, commits: map[string]bool{}}
			byAuthor[key] = a
		}
		a.Lines += g.num
		a.commits[g.hash] = true
		b.Lines += g.num
		age := max(revTime.Sub(c.time), 0)
		ages[ageBucket(age)] += g.num
		if !c.time.IsZero() {
			if b.Oldest.IsZero() || c.time.Before(b.Oldest) {
				b.Oldest = c.time
			}
			if c.time.After(b.Newest) {
				b.Newest = c.time
			}
		}
	}
	for _, a := range byAuthor {
		a.Commits = int64(len(a.commits))
		b.Authors = append(b.Authors, a.BlameAuthor)
	}
	slices.SortFunc(b.Authors, func(x, y BlameAuthor) int {
		if c := cmp.Compare(y.Lines, x.Lines); c != 0 {
			return c
		}
		return cmp.Compare(x.Email+"\x00"+x.Name, y.Email+"\x00"+y.Name)
	})
	for i, bk := range AgeBuckets {
		b.Ages = append(b.Ages, BlameAge{Bucket: bk.Name, Lines: ages[i]})
	}
	b.Digest = hex.EncodeToString(sum.Sum(nil))
	return b
}

// ErrExcluded: the file is one no source reads (see package exclude).
var ErrExcluded = errors.New("never read by ami-audit")

// blame records the blame of file (relative to r) when its attribution
// changed since the last git_blame record.
func (s *Source) blame(ctx context.Context, r repo, file string, emit func(*audit.Record) error) error {
	if why := s.cfg.Exclude.File(filepath.Join(r.dir, filepath.FromSlash(file))); why != "" {
		return fmt.Errorf("blame %s: %w: %s", file, ErrExcluded, why)
	}
	rev := s.cfg.Revision
	if rev == "" {
		rev = "HEAD"
	}
	out, err := s.output(ctx, r.dir, "show", "-s", "--no-show-signature", "--format=%H%x00%cI", rev+"^{commit}", "--")
	if err != nil {
		return fmt.Errorf("blame %s: %w", file, err)
	}
	h, d, _ := strings.Cut(strings.TrimSpace(string(out)), "\x00")
	revTime := parseGitTime(d)
	var commits map[string]*blameCommit
	var groups []blameGroup
	err = s.stream(ctx, r.dir, nil, []string{"blame", "--incremental", h, "--", file}, func(out io.Reader) error {
		var err error
		commits, groups, err = parseBlame(out)
		return err
	})
	if err != nil {
		return fmt.Errorf("blame %s: %w", file, err)
	}
	b := summarizeBlame(commits, groups, revTime)
	b.Path = file
	if r.path != "." {
		b.Path = r.path + "/" + file
	}
	b.Revision, b.RevisionTime = h, revTime
	if s.cfg.OnBlame != nil {
		s.cfg.OnBlame(&b)
	}
	last, err := s.lastRecord(ctx, ActionBlame, b.Path)
	if err != nil {
		return err
	}
	if last != nil && last.Context["digest"] == b.Digest {
		return nil
	}
	return emit(s.blameRecord(&b))
}

func (s *Source) blameRecord(b *Blame) *audit.Record {
	rec := audit.New(summaryActor, ActionBlame, safeText(b.Path), audit.TargetGit)
	rec.Source = SourceName
	rec.Timestamp = b.RevisionTime
	if rec.Timestamp.IsZero() {
		rec.Timestamp = s.cfg.now()
	}
	authors := make([]any, 0, len(b.Authors))
	for _, a := range b.Authors {
		m := map[string]any{"lines": a.Lines, "commits": a.Commits, "share": share(a.Lines, b.Lines)}
		putText(m, "name", a.Name)
		putText(m, "email", a.Email)
		authors = append(authors, m)
	}
	ages := make([]any, 0, len(b.Ages))
	for _, a := range b.Ages {
		ages = append(ages, map[string]any{"bucket": a.Bucket, "lines": a.Lines, "share": share(a.Lines, b.Lines)})
	}
	ctx := map[string]any{
		"revision":      b.Revision,
		"revision_date": b.RevisionTime.Format(time.RFC3339),
		"lines":         b.Lines,
		"authors":       authors,
		"ages":          ages,
		"digest":        b.Digest,
	}
	putText(ctx, "file", b.Path)
	putTime(ctx, "oldest_line", b.Oldest)
	putTime(ctx, "newest_line", b.Newest)
	rec.Context = ctx
	rec.Normalize()
	return rec
}

// share is part/whole in percent, rounded to one decimal.
func share(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part*1000/whole) / 10
}
