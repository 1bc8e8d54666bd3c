package git

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
)

// sizeBatch is how many commits are read before the sizes of their files
// are asked for at once: one round trip to git cat-file per batch, not
// per commit.
const sizeBatch = 256

// sizer resolves object sizes with one long-running
// `git cat-file --batch-check` per walk. A sizer that cannot start or
// whose process fails leaves sizes unknown: a size is a fact some
// analyses use, never a reason to fail the walk.
type sizer struct {
	s    *Source
	dir  string
	ctx  context.Context
	in   *bufio.Writer
	out  *bufio.Reader
	stop func()
	dead bool
}

func newSizer(ctx context.Context, s *Source, dir string) *sizer {
	return &sizer{s: s, dir: dir, ctx: ctx}
}

func (z *sizer) start() bool {
	if z.dead {
		return false
	}
	if z.in != nil {
		return true
	}
	ctx, cancel := context.WithCancel(z.ctx)
	cmd := z.s.command(ctx, z.dir, "cat-file", "--batch-check=%(objectsize)")
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	if err1 != nil || err2 != nil || cmd.Start() != nil {
		cancel()
		z.dead = true
		return false
	}
	z.in = bufio.NewWriterSize(stdin, 64<<10)
	z.out = bufio.NewReaderSize(stdout, 64<<10)
	z.stop = func() {
		stdin.Close()
		io.Copy(io.Discard, stdout)
		cancel()
		cmd.Wait()
	}
	return true
}

// resolve fills Size of every file of commits that has a Blob, in the
// commits want wants (every one when want is nil).
func (z *sizer) resolve(commits []Commit, want func(*Commit) bool) {
	n := 0
	for i := range commits {
		if want != nil && !want(&commits[i]) {
			for j := range commits[i].Files {
				commits[i].Files[j].Blob = ""
			}
			continue
		}
		for j := range commits[i].Files {
			if commits[i].Files[j].Blob != "" {
				n++
			}
		}
	}
	if n == 0 || !z.start() {
		return
	}
	// cat-file answers each line as it reads it; the writes go from
	// another goroutine so that neither side waits on a full pipe.
	errc := make(chan error, 1)
	go func() {
		for i := range commits {
			for _, f := range commits[i].Files {
				if f.Blob != "" {
					z.in.WriteString(f.Blob)
					z.in.WriteByte('\n')
				}
			}
		}
		errc <- z.in.Flush()
	}()
	ok := true
	for i := range commits {
		for j := range commits[i].Files {
			f := &commits[i].Files[j]
			if f.Blob == "" || !ok {
				continue
			}
			line, err := z.out.ReadString('\n')
			if err != nil {
				ok = false
				continue
			}
			// "<size>", or "<oid> missing" for an object not here (a
			// partial clone).
			if n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64); err == nil && n >= 0 {
				f.Size, f.Sized = n, true
			}
		}
	}
	if !ok {
		z.close() // unblocks the writer
	}
	if err := <-errc; err != nil || !ok {
		z.close()
		z.dead = true
	}
}

func (z *sizer) close() {
	if z.stop != nil {
		z.stop()
		z.stop = nil
	}
}
