package gitgen

import (
	"fmt"
	"sort"
	"strings"
)

// Patterns are what Options.Plant adds to the main line, after the
// generated history, with the answers an analysis of the history must
// give. Paths are repository-relative.
type Patterns struct {
	// Coupled are two files always committed together, CoupledCommits
	// times, and never apart.
	Coupled        [2]string
	CoupledCommits int
	// Hotspot is a Go file of growing complexity changed in
	// HotspotCommits commits (its module, app/, has a go.mod so that a
	// module source measures its complexity). No other file of the
	// history has any complexity but Coupled[1], changed less often.
	Hotspot        string
	HotspotCommits int
	// LargeBinary is a binary file of LargeBinarySize bytes added by
	// LargeBinaryCommit, the one file of the history over 1 MiB.
	LargeBinary       string
	LargeBinarySize   int64
	LargeBinaryCommit string
	// BadMessages maps the commits with a bad message ("wip", "fix", "x")
	// to that message. Every other message has a subject of at least 10
	// characters that is more than one word, and no commit changes 20
	// files or 500 lines without a body.
	BadMessages map[string]string
	// SoloModule is a module (a directory with a pyproject.toml) whose
	// every commit, SoloCommits of them, is by SoloAuthor (an e-mail no
	// other commit has).
	SoloModule  string
	SoloAuthor  string
	SoloCommits int
}

// plantMark is a commit of the patterns, named by mark until the marks
// are resolved to hashes.
type plantMark struct {
	mark int
	what string // "large", or "bad:<message>"
}

// plant writes the patterns' commits on main after the generated
// history; last is the mark of main's last commit so far. It returns the
// new last mark.
func (g *gen) plant(last int) int {
	p := &Patterns{
		Coupled:     [2]string{"app/schema.sql", "app/migrations.py"},
		Hotspot:     "app/engine.go",
		LargeBinary: "assets/firmware.bin",
		SoloModule:  "solo",
		SoloAuthor:  "solo@example.com",
		BadMessages: map[string]string{},
	}
	g.ans.Patterns = p
	commit := func(a author, msg string, files map[string]string) int {
		last = g.header("refs/heads/main", a, g.tick(), msg, "")
		for _, path := range sortedKeys(files) {
			content := files[path]
			fmt.Fprintf(g.w, "M 100644 inline %s\ndata %d\n%s\n", quote(path), len(content), content)
		}
		g.ans.PerAuthor[a.email]++
		g.ans.Commits++
		return last
	}
	// appended adds lines to a planted file and counts them.
	contents := map[string]string{}
	appended := func(path, add string) string {
		contents[path] += add
		g.count(path, int64(strings.Count(add, "\n")), 0, false)
		return contents[path]
	}

	// The hotspot: a Go module whose one file grows a branching function
	// per commit.
	a := g.pickAuthor()
	commit(a, "Add the rules engine\n\nThe engine evaluates the rules in order.", map[string]string{
		"app/go.mod":    appended("app/go.mod", "module example.com/app\n\ngo 1.22\n"),
		"app/engine.go": appended("app/engine.go", "package app\n\n// Eval runs the rules.\nfunc Eval(x int) int {\n\treturn x\n}\n"),
	})
	p.HotspotCommits = 1
	for k := range 24 {
		fn := fmt.Sprintf("\nfunc rule%d(x int) int {\n\tif x > %d {\n\t\treturn x - %d\n\t}\n\tfor i := 0; i < x; i++ {\n\t\tif i%%%d == 0 && x > i {\n\t\t\tx--\n\t\t}\n\t}\n\treturn x\n}\n", k, k+1, k, k+2)
		commit(g.pickAuthor(), fmt.Sprintf("Engine: handle rule %d", k), map[string]string{"app/engine.go": appended("app/engine.go", fn)})
		p.HotspotCommits++
		// The coupled pair, every third commit of the engine.
		if k%3 == 0 {
			commit(g.pickAuthor(), fmt.Sprintf("Schema: add table t%d with its migration", k), map[string]string{
				"app/schema.sql":    appended("app/schema.sql", fmt.Sprintf("CREATE TABLE t%d (id INTEGER PRIMARY KEY);\n", k)),
				"app/migrations.py": appended("app/migrations.py", fmt.Sprintf("def migrate_t%d(db):\n    if db:\n        db.execute('CREATE TABLE t%d (id INTEGER)')\n", k, k)),
			})
			p.CoupledCommits++
		}
	}

	// The module one author wrote alone.
	solo := author{name: "Sol Owner", email: p.SoloAuthor}
	g.ans.Authors[solo.email] = solo.name
	commit(solo, "Start the solo module\n\nA package of its own.", map[string]string{
		"solo/pyproject.toml": appended("solo/pyproject.toml", "[project]\nname = \"solo\"\nversion = \"0.1.0\"\n"),
		"solo/solo.py":        appended("solo/solo.py", "def one():\n    return 1\n"),
	})
	p.SoloCommits = 1
	for k := range 5 {
		commit(solo, fmt.Sprintf("Solo: add step %d", k), map[string]string{
			"solo/solo.py": appended("solo/solo.py", fmt.Sprintf("\n\ndef step%d(x):\n    return x + %d\n", k, k)),
		})
		p.SoloCommits++
	}

	// The large binary.
	size := 3 << 20
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	b[0] = 0
	p.LargeBinarySize = int64(size)
	last = g.header("refs/heads/main", g.authors[0], g.tick(), "Add the firmware image 2.1\n\nBuilt from the vendor's release archive.", "")
	fmt.Fprintf(g.w, "M 100644 inline %s\ndata %d\n", quote(p.LargeBinary), len(b))
	g.w.Write(b)
	g.w.WriteByte('\n')
	g.count(p.LargeBinary, 0, 0, true)
	g.ans.PerAuthor[g.authors[0].email]++
	g.ans.Commits++
	g.plantMarks = append(g.plantMarks, plantMark{last, "large"})

	// Three bad messages, each on an ordinary edit.
	for _, msg := range []string{"wip", "fix", "x"} {
		a := g.pickAuthor()
		path := g.texts.pick(g.rng)
		last = g.header("refs/heads/main", a, g.tick(), msg, "")
		f := g.files[path]
		added, removed := g.edit(f, a)
		g.writeFile(path, f)
		g.count(path, added, removed, false)
		g.ans.PerAuthor[a.email]++
		g.ans.Commits++
		g.plantMarks = append(g.plantMarks, plantMark{last, "bad:" + msg})
	}
	return last
}

// resolvePatterns turns the marks of the planted commits into hashes.
func resolvePatterns(ans *Answers, marks map[string]string, planted []plantMark) {
	for _, m := range planted {
		h := marks[fmt.Sprintf(":%d", m.mark)]
		switch {
		case m.what == "large":
			ans.Patterns.LargeBinaryCommit = h
		case strings.HasPrefix(m.what, "bad:"):
			ans.Patterns.BadMessages[h] = strings.TrimPrefix(m.what, "bad:")
		}
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
