// Package gitgen builds git repositories of a chosen size for tests and
// benchmarks, quickly (one `git fast-import` stream per repository) and
// deterministically from a seed, and returns what a correct reader of the
// history must find: commits per author, lines added and removed per file,
// renames, binary changes, merges, the submodule's history and, for every
// file at HEAD, how many lines each author wrote.
//
// The history has many authors with a skewed share of the work, text files
// whose lines are all distinct (so every diff has exactly one minimal
// form and the expected line counts are exact), pure renames, deletions,
// binary files, a side branch merged back every 40 commits, a lightweight
// and an annotated tag, and an initialised submodule at "lib" with its own
// history. Hostile adds a file whose name holds a newline, one whose name
// is not UTF-8, and a commit whose message and author are not UTF-8.
// Plant adds patterns an analysis of the history must find (Patterns):
// two files always committed together, a hotspot, a large binary, three
// bad commit messages and a module one author wrote alone.
// PlantSecrets then adds made-up credentials and decoys, for secret
// scanners.
package gitgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Options say what to build. Zero fields take the defaults noted.
type Options struct {
	Seed    uint64
	Commits int // commits on the main line, merges excluded (default 200)
	Authors int // distinct authors (default 12)
	// SubmoduleCommits is the length of the submodule's history (default
	// 20); negative builds no submodule.
	SubmoduleCommits int
	// NoMerges builds a linear history.
	NoMerges bool
	// Hostile adds file names and a message that are not clean text.
	Hostile bool
	// Start is the date of the first commit (default 2020-01-06 UTC);
	// commits are about Step apart (default 1h).
	Start time.Time
	Step  time.Duration
	// Plant adds patterns with known answers for analyses of the
	// history (see Patterns) after the generated commits.
	Plant bool
}

// Lines counts the lines added and removed to one path over the
// history, as `git log --numstat` reports them, and the commits that
// changed the path.
type Lines struct {
	Added, Removed int64
	Commits        int64
	Binary         int64 // changes reported as binary
}

// Rename is a file renamed, with its content unchanged.
type Rename struct {
	Commit   string // hash
	Old, New string
}

// Answers is what the generated history holds.
type Answers struct {
	Dir     string
	Head    string // main's last commit
	Commits int    // commits in the top repository, merges included
	Merges  int
	// PerAuthor counts commits per author e-mail (top repository).
	PerAuthor map[string]int
	// Authors maps each e-mail to the author name.
	Authors map[string]string
	// Files holds the --numstat totals per path, non-merge commits only.
	Files   map[string]Lines
	Renames []Rename
	// Blame maps each text file at HEAD to the lines each author e-mail
	// wrote.
	Blame map[string]map[string]int64
	// Branches and Tags map names to commit hashes.
	Branches map[string]string
	Tags     map[string]string
	// Submodule describes the submodule, when there is one.
	Submodule *SubAnswers
	// Patterns are the planted patterns, with Options.Plant.
	Patterns *Patterns `json:",omitempty"`
}

// SubAnswers is what the submodule's history holds.
type SubAnswers struct {
	Path      string
	Commits   int
	PerAuthor map[string]int
	Head      string
}

type line struct {
	text   string
	author string // e-mail
}

type file struct {
	lines  []line
	binary []byte
	isBin  bool
}

type gen struct {
	rng     *rand.Rand
	o       Options
	w       *bufio.Writer
	mark    int
	files   map[string]*file // files on main
	texts   pathSet          // text files on main
	bins    pathSet          // binary files on main
	ans     *Answers
	authors []author
	weights []float64
	when    time.Time
	counter int
	// plantMarks are the planted commits to name in the answers.
	plantMarks []plantMark
}

type author struct{ name, email string }

// Generate builds the repository in dir, which must not exist or be empty,
// and returns its answers.
func Generate(ctx context.Context, dir string, o Options) (*Answers, error) {
	if o.Commits <= 0 {
		o.Commits = 200
	}
	if o.Authors <= 0 {
		o.Authors = 12
	}
	if o.SubmoduleCommits == 0 {
		o.SubmoduleCommits = 20
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2020, 1, 6, 9, 0, 0, 0, time.UTC)
	}
	if o.Step <= 0 {
		o.Step = time.Hour
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := run(ctx, "", nil, "init", "-q", "-b", "main", dir); err != nil {
		return nil, err
	}
	for _, kv := range [][2]string{{"user.name", "gitgen"}, {"user.email", "gitgen@example.com"}, {"commit.gpgsign", "false"}} {
		if err := run(ctx, dir, nil, "config", kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	ans := &Answers{
		Dir: dir, PerAuthor: map[string]int{}, Authors: map[string]string{},
		Files: map[string]Lines{}, Blame: map[string]map[string]int64{},
		Branches: map[string]string{}, Tags: map[string]string{},
	}
	var sub *subInfo
	if o.SubmoduleCommits > 0 {
		if sub, err = generateSub(ctx, dir, o); err != nil {
			return nil, err
		}
		ans.Submodule = &SubAnswers{Path: "lib", Commits: len(sub.hashes), PerAuthor: sub.perAuthor, Head: sub.hashes[len(sub.hashes)-1]}
	}
	marks := filepath.Join(dir, ".git", "gitgen-marks")
	var g *gen
	err = fastImport(ctx, dir, marks, func(w *bufio.Writer) error {
		g = newGen(o, w, ans)
		return g.main(sub)
	})
	if err != nil {
		return nil, err
	}
	if err := resolveAnswers(ctx, dir, marks, ans); err != nil {
		return nil, err
	}
	if ans.Patterns != nil {
		m, err := readMarks(marks)
		if err != nil {
			return nil, err
		}
		resolvePatterns(ans, m, g.plantMarks)
	}
	if err := run(ctx, dir, nil, "reset", "-q", "--hard"); err != nil {
		return nil, err
	}
	return ans, nil
}

func newGen(o Options, w *bufio.Writer, ans *Answers) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), o: o, w: w,
		files: map[string]*file{}, ans: ans, when: o.Start}
	first := []string{"Ada", "Linus", "Grace", "Ken", "Barbara", "Dennis", "Frances", "Niklaus", "Margaret", "Edsger", "Radia", "Donald", "Hedy", "John", "Sophie", "Alan"}
	last := []string{"Lovelace", "Torvalds", "Hopper", "Thompson", "Liskov", "Ritchie", "Allen", "Wirth", "Hamilton", "Dijkstra", "Perlman", "Knuth", "Lamarr", "Backus", "Wilson", "Kay"}
	for i := range o.Authors {
		name := first[i%len(first)] + " " + last[(i/len(first)+i)%len(last)]
		if i >= len(first) {
			name += fmt.Sprintf(" %d", i/len(first))
		}
		if i == 3 {
			name = "Zoë Ünïcode" // a name that is not ASCII
		}
		email := fmt.Sprintf("author%02d@example.com", i)
		g.authors = append(g.authors, author{name, email})
		g.weights = append(g.weights, 1/float64(i+1))
		ans.Authors[email] = name
	}
	return g
}

func (g *gen) pickAuthor() author {
	var total float64
	for _, w := range g.weights {
		total += w
	}
	x := g.rng.Float64() * total
	for i, w := range g.weights {
		if x < w {
			return g.authors[i]
		}
		x -= w
	}
	return g.authors[len(g.authors)-1]
}

func (g *gen) tick() time.Time {
	jitter := time.Duration(g.rng.Int64N(int64(g.o.Step)/2 + 1))
	g.when = g.when.Add(g.o.Step/2 + jitter)
	return g.when
}

func (g *gen) newLine(a author) line {
	g.counter++
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
	return line{text: fmt.Sprintf("%06d %s %s", g.counter, words[g.rng.IntN(len(words))], words[g.rng.IntN(len(words))]), author: a.email}
}

// header writes a commit header; from is "" to continue the branch.
func (g *gen) header(ref string, a author, when time.Time, msg, from string) int {
	g.mark++
	fmt.Fprintf(g.w, "commit %s\nmark :%d\n", ref, g.mark)
	fmt.Fprintf(g.w, "author %s <%s> %d +0000\n", a.name, a.email, when.Unix())
	fmt.Fprintf(g.w, "committer %s <%s> %d +0000\n", a.name, a.email, when.Unix())
	fmt.Fprintf(g.w, "data %d\n%s\n", len(msg), msg)
	if from != "" {
		fmt.Fprintf(g.w, "from %s\n", from)
	}
	return g.mark
}

func (g *gen) writeFile(path string, f *file) {
	if f.isBin {
		fmt.Fprintf(g.w, "M 100644 inline %s\ndata %d\n", quote(path), len(f.binary))
		g.w.Write(f.binary)
		g.w.WriteByte('\n')
		return
	}
	n := 0
	for _, l := range f.lines {
		n += len(l.text) + 1
	}
	fmt.Fprintf(g.w, "M 100644 inline %s\ndata %d\n", quote(path), n)
	for _, l := range f.lines {
		g.w.WriteString(l.text)
		g.w.WriteByte('\n')
	}
	g.w.WriteByte('\n')
}

func (g *gen) count(path string, added, removed int64, binary bool) {
	l := g.ans.Files[path]
	l.Added += added
	l.Removed += removed
	l.Commits++
	if binary {
		l.Binary++
	}
	g.ans.Files[path] = l
}

// pathSet is a set of paths with O(1) add, remove and random pick, in
// an order that depends only on the operations done.
type pathSet struct {
	list []string
	idx  map[string]int
}

func (s *pathSet) add(p string) {
	if s.idx == nil {
		s.idx = map[string]int{}
	}
	if _, ok := s.idx[p]; ok {
		return
	}
	s.idx[p] = len(s.list)
	s.list = append(s.list, p)
}

func (s *pathSet) remove(p string) {
	i, ok := s.idx[p]
	if !ok {
		return
	}
	last := s.list[len(s.list)-1]
	s.list[i] = last
	s.idx[last] = i
	s.list = s.list[:len(s.list)-1]
	delete(s.idx, p)
}

func (s *pathSet) pick(rng *rand.Rand) string { return s.list[rng.IntN(len(s.list))] }

// pickN returns up to n distinct paths, sorted.
func (s *pathSet) pickN(rng *rand.Rand, n int) []string {
	n = min(n, len(s.list))
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		p := s.pick(rng)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

var messages = []string{"Fix %s handling", "Add %s", "Refactor %s", "Update %s docs", "Speed up %s", "Remove dead code in %s", "Test %s edge cases"}

func (g *gen) message(i int, topic string) string {
	m := fmt.Sprintf(messages[g.rng.IntN(len(messages))], topic)
	if g.rng.IntN(3) == 0 {
		m += fmt.Sprintf("\n\nCommit %d explains itself here.\nSecond body line — with ünicode.", i)
	}
	return m
}

type rename struct {
	mark     int
	old, new string
}

// main writes the main line.
func (g *gen) main(sub *subInfo) error {
	var renames []rename
	subAt := g.o.Commits / 10
	tagAt := g.o.Commits / 3
	last := 0
	for i := range g.o.Commits {
		a := g.pickAuthor()
		when := g.tick()
		if !g.o.NoMerges && i > 0 && i%40 == 0 {
			g.sideBranch(i, last)
		}
		from := ""
		if i == 0 {
			from = ""
		}
		ntext := len(g.texts.list)
		op := g.rng.IntN(100)
		switch {
		case i == 0 || ntext < 3 || op < 15:
			p := fmt.Sprintf("src/pkg%d/file%d.txt", g.rng.IntN(8), i)
			last = g.header("refs/heads/main", a, when, g.message(i, p), from)
			f := &file{}
			for range 3 + g.rng.IntN(25) {
				f.lines = append(f.lines, g.newLine(a))
			}
			g.files[p] = f
			g.texts.add(p)
			g.writeFile(p, f)
			g.count(p, int64(len(f.lines)), 0, false)
		case op < 20:
			old := g.texts.pick(g.rng)
			nw := fmt.Sprintf("moved/r%d-%s", i, filepath.Base(old))
			last = g.header("refs/heads/main", a, when, "Rename "+old, from)
			fmt.Fprintf(g.w, "R %s %s\n", quote(old), quote(nw))
			g.files[nw] = g.files[old]
			delete(g.files, old)
			g.texts.remove(old)
			g.texts.add(nw)
			g.count(nw, 0, 0, false)
			renames = append(renames, rename{last, old, nw})
		case op < 24 && ntext > 6:
			p := g.texts.pick(g.rng)
			last = g.header("refs/heads/main", a, when, "Delete "+p, from)
			fmt.Fprintf(g.w, "D %s\n", quote(p))
			g.count(p, 0, int64(len(g.files[p].lines)), false)
			delete(g.files, p)
			g.texts.remove(p)
		case op < 30:
			var p string
			if len(g.bins.list) == 0 || g.rng.IntN(2) == 0 {
				p = fmt.Sprintf("assets/blob%d.bin", i)
			} else {
				p = g.bins.pick(g.rng)
			}
			g.bins.add(p)
			last = g.header("refs/heads/main", a, when, "Binary "+p, from)
			b := make([]byte, 256+g.rng.IntN(2048))
			for j := range b {
				b[j] = byte(g.rng.UintN(256))
			}
			b[0] = 0
			f := &file{isBin: true, binary: b}
			g.files[p] = f
			g.writeFile(p, f)
			g.count(p, 0, 0, true)
		default:
			n := 1 + g.rng.IntN(3)
			chosen := g.texts.pickN(g.rng, n)
			last = g.header("refs/heads/main", a, when, g.message(i, chosen[0]), from)
			for _, p := range chosen {
				f := g.files[p]
				added, removed := g.edit(f, a)
				g.writeFile(p, f)
				g.count(p, added, removed, false)
			}
		}
		if sub != nil && (i == subAt || i == g.o.Commits-1) {
			g.gitlink(sub, i == subAt)
		}
		if g.o.Hostile && i == g.o.Commits/2 {
			g.hostile(a, when)
		}
		if i == tagAt {
			fmt.Fprintf(g.w, "reset refs/tags/v0.1\nfrom :%d\n\n", last)
		}
		g.ans.PerAuthor[a.email]++
		g.ans.Commits++
	}
	if g.o.Plant {
		last = g.plant(last)
	}
	t := g.when.Add(time.Minute)
	msg := "Release 1.0"
	fmt.Fprintf(g.w, "tag v1.0\nfrom :%d\ntagger %s <%s> %d +0000\ndata %d\n%s\n", last, g.authors[0].name, g.authors[0].email, t.Unix(), len(msg), msg)
	fmt.Fprint(g.w, "done\n")
	for _, r := range renames {
		g.ans.Renames = append(g.ans.Renames, Rename{Commit: fmt.Sprintf(":%d", r.mark), Old: r.old, New: r.new})
	}
	for p, f := range g.files {
		if f.isBin {
			continue
		}
		m := map[string]int64{}
		for _, l := range f.lines {
			m[l.author]++
		}
		g.ans.Blame[p] = m
	}
	return g.w.Flush()
}

// gitlink adds (first) or updates the submodule in the last commit
// written.
func (g *gen) gitlink(sub *subInfo, first bool) {
	if first {
		gm := "[submodule \"lib\"]\n\tpath = lib\n\turl = https://example.invalid/lib.git\n"
		fmt.Fprintf(g.w, "M 100644 inline .gitmodules\ndata %d\n%s\n", len(gm), gm)
		g.count(".gitmodules", 3, 0, false)
		fmt.Fprintf(g.w, "M 160000 %s lib\n", sub.hashes[len(sub.hashes)/2])
		g.count("lib", 1, 0, false)
		return
	}
	if h := sub.hashes[len(sub.hashes)-1]; h != sub.hashes[len(sub.hashes)/2] {
		fmt.Fprintf(g.w, "M 160000 %s lib\n", h)
		g.count("lib", 1, 1, false)
	}
}

// edit changes a text file in place: removes lines at the start,
// replaces some, appends some. It returns the --numstat counts.
func (g *gen) edit(f *file, a author) (added, removed int64) {
	if r := g.rng.IntN(3); r > 0 && len(f.lines) > r+2 && g.rng.IntN(3) == 0 {
		f.lines = f.lines[r:]
		removed += int64(r)
	}
	m := min(g.rng.IntN(3), len(f.lines))
	for _, k := range g.rng.Perm(len(f.lines))[:m] {
		f.lines[k] = g.newLine(a)
		added++
		removed++
	}
	for range g.rng.IntN(6) {
		f.lines = append(f.lines, g.newLine(a))
		added++
	}
	if added == 0 && removed == 0 {
		f.lines = append(f.lines, g.newLine(a))
		added++
	}
	return added, removed
}

// sideBranch writes two commits on "feature", branched from main's last
// commit, and merges them into main.
func (g *gen) sideBranch(i, mainMark int) {
	a := g.pickAuthor()
	p := fmt.Sprintf("feature/f%d.txt", i)
	f := &file{}
	for range 4 + g.rng.IntN(6) {
		f.lines = append(f.lines, g.newLine(a))
	}
	g.header("refs/heads/feature", a, g.tick(), "Start feature "+p, fmt.Sprintf(":%d", mainMark))
	g.writeFile(p, f)
	g.count(p, int64(len(f.lines)), 0, false)
	g.ans.PerAuthor[a.email]++
	b := g.pickAuthor()
	added, removed := g.edit(f, b)
	side := g.header("refs/heads/feature", b, g.tick(), "Finish feature "+p, "")
	g.writeFile(p, f)
	g.count(p, added, removed, false)
	g.ans.PerAuthor[b.email]++
	m := g.pickAuthor()
	g.header("refs/heads/main", m, g.tick(), "Merge feature "+p, "")
	fmt.Fprintf(g.w, "merge :%d\n", side)
	g.writeFile(p, f)
	g.files[p] = f
	g.texts.add(p)
	g.ans.PerAuthor[m.email]++
	g.ans.Commits += 3
	g.ans.Merges++
}

// hostile writes a commit with names and a message that are not clean
// text.
func (g *gen) hostile(a author, when time.Time) {
	bad := author{name: "Bad \xff\xfe Name", email: "bad\xff@example.com"}
	g.ans.Authors[bad.email] = bad.name
	g.header("refs/heads/main", bad, when.Add(time.Second), "Subject \xff\xfe not UTF-8\n\nbody \x80", "")
	for _, p := range []string{"odd\nname.txt", "bad-\xff\xfe.txt", `back\slash "quoted".txt`} {
		f := &file{lines: []line{g.newLine(bad), g.newLine(bad)}}
		g.files[p] = f
		g.texts.add(p)
		g.writeFile(p, f)
		g.count(p, 2, 0, false)
	}
	g.ans.PerAuthor[bad.email]++
	g.ans.Commits++
}

// quote writes a path in fast-import's C-style quoted form.
func quote(p string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type subInfo struct {
	hashes    []string
	perAuthor map[string]int
}

// generateSub builds the submodule's repository at dir/lib, with its git
// directory under dir/.git/modules/lib as git itself lays it out.
func generateSub(ctx context.Context, dir string, o Options) (*subInfo, error) {
	wt := filepath.Join(dir, "lib")
	gd := filepath.Join(dir, ".git", "modules", "lib")
	if err := os.MkdirAll(filepath.Dir(gd), 0o755); err != nil {
		return nil, err
	}
	if err := run(ctx, "", nil, "init", "-q", "-b", "main", "--separate-git-dir", gd, wt); err != nil {
		return nil, err
	}
	info := &subInfo{perAuthor: map[string]int{}}
	marks := filepath.Join(gd, "gitgen-marks")
	err := fastImport(ctx, wt, marks, func(w *bufio.Writer) error {
		rng := rand.New(rand.NewPCG(o.Seed+1, 7))
		when := o.Start
		lines := 0
		for i := range o.SubmoduleCommits {
			email := fmt.Sprintf("lib%d@example.com", rng.IntN(3))
			when = when.Add(o.Step * 3)
			msg := fmt.Sprintf("lib change %d", i)
			fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\n", i+1)
			fmt.Fprintf(w, "author Lib Dev <%s> %d +0000\ncommitter Lib Dev <%s> %d +0000\n", email, when.Unix(), email, when.Unix())
			fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
			lines++
			var content bytes.Buffer
			for j := range lines {
				fmt.Fprintf(&content, "lib line %d\n", j)
			}
			fmt.Fprintf(w, "M 100644 inline lib.txt\ndata %d\n%s\n", content.Len(), content.Bytes())
			info.perAuthor[email]++
		}
		fmt.Fprint(w, "done\n")
		return w.Flush()
	})
	if err != nil {
		return nil, err
	}
	m, err := readMarks(marks)
	if err != nil {
		return nil, err
	}
	for i := range o.SubmoduleCommits {
		info.hashes = append(info.hashes, m[fmt.Sprintf(":%d", i+1)])
	}
	if err := run(ctx, wt, nil, "reset", "-q", "--hard"); err != nil {
		return nil, err
	}
	return info, nil
}

func resolveAnswers(ctx context.Context, dir, marks string, ans *Answers) error {
	m, err := readMarks(marks)
	if err != nil {
		return err
	}
	for i, r := range ans.Renames {
		ans.Renames[i].Commit = m[r.Commit]
	}
	out, err := output(ctx, dir, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)")
	if err != nil {
		return err
	}
	for l := range strings.Lines(string(out)) {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && strings.HasPrefix(f[0], "refs/heads/"):
			ans.Branches[strings.TrimPrefix(f[0], "refs/heads/")] = f[1]
		case len(f) >= 2 && strings.HasPrefix(f[0], "refs/tags/"):
			h := f[1]
			if len(f) == 3 {
				h = f[2]
			}
			ans.Tags[strings.TrimPrefix(f[0], "refs/tags/")] = h
		}
	}
	ans.Head = ans.Branches["main"]
	return nil
}

func readMarks(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for l := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
			m[k] = v
		}
	}
	return m, nil
}

// fastImport runs git fast-import in dir and feeds it what write writes.
func fastImport(ctx context.Context, dir, marks string, write func(*bufio.Writer) error) error {
	cmd := exec.CommandContext(ctx, "git", "fast-import", "--quiet", "--done", "--export-marks="+marks)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	werr := write(bufio.NewWriterSize(in, 1<<20))
	in.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import in %s: %v: %s", dir, err, tail(stderr.String()))
	}
	return werr
}

func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
}

func run(ctx context.Context, dir string, stdin io.Reader, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, tail(string(out)))
	}
	return nil
}

func output(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v", strings.Join(args, " "), err)
	}
	return out, nil
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// Commit adds one commit on top of branch main of the repository in dir,
// writing files (path → content), and returns its hash. Tests use it to
// grow a generated history.
func Commit(ctx context.Context, dir, name, email string, when time.Time, msg string, files map[string]string) (string, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "commit refs/heads/main\nmark :1\n")
	fmt.Fprintf(&b, "author %s <%s> %d +0000\ncommitter %s <%s> %d +0000\n", name, email, when.Unix(), name, email, when.Unix())
	fmt.Fprintf(&b, "data %d\n%s\nfrom refs/heads/main^0\n", len(msg), msg)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n%s\n", quote(p), len(files[p]), files[p])
	}
	b.WriteString("done\n")
	marks := filepath.Join(dir, ".git", "gitgen-commit-marks")
	err := fastImport(ctx, dir, marks, func(w *bufio.Writer) error {
		w.Write(b.Bytes())
		return w.Flush()
	})
	if err != nil {
		return "", err
	}
	m, err := readMarks(marks)
	if err != nil {
		return "", err
	}
	if err := run(ctx, dir, nil, "reset", "-q", "--hard"); err != nil {
		return "", err
	}
	return m[":1"], nil
}
