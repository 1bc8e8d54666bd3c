// Command gitgen builds a git repository of a chosen size for tests and
// benchmarks and prints what its history holds.
//
//	go run ./cmd/gitgen -commits 50000 -out /tmp/big
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
)

func main() {
	var o gitgen.Options
	out := flag.String("out", "", "directory to create (required; must not exist or be empty)")
	flag.IntVar(&o.Commits, "commits", 1000, "commits on the main line")
	flag.IntVar(&o.Authors, "authors", 12, "distinct authors")
	flag.IntVar(&o.SubmoduleCommits, "submodule-commits", 20, "commits of the submodule at lib/ (negative: none)")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed; the same seed builds the same history")
	flag.BoolVar(&o.Hostile, "hostile", false, "add file names and a message that are not clean text")
	flag.BoolVar(&o.Plant, "patterns", false, "plant patterns with known answers for the git analyzer: two files always committed together, a hotspot, a large binary, three bad commit messages, a module one author wrote alone")
	answers := flag.Bool("answers", false, "print the expected answers as JSON")
	secrets := flag.Bool("secrets", false, "plant made-up credentials of twenty kinds (in the tree, only in the history, on an unmerged branch, in the submodule) and decoys; with -answers, print them too")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gitgen: -out is required")
		flag.Usage()
		os.Exit(2)
	}
	if abs, err := filepath.Abs(*out); err == nil && slices.Contains(strings.Split(filepath.ToSlash(abs), "/"), ".audit") {
		// A repository written there would land among a trail's files.
		fmt.Fprintf(os.Stderr, "gitgen: -out %s is inside an audit trail's directory (.audit); choose another\n", *out)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	ans, err := gitgen.Generate(ctx, *out, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitgen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gitgen: %s (%s), %s in %s, head %s, in %s\n",
		plural.Count(ans.Commits, "commit"), plural.Count(ans.Merges, "merge"), plural.Count(len(ans.PerAuthor), "author"),
		ans.Dir, ans.Head, time.Since(start).Round(time.Millisecond))
	var planted *gitgen.SecretAnswers
	if *secrets {
		if planted, err = gitgen.PlantSecrets(ctx, *out, o.Seed); err != nil {
			fmt.Fprintln(os.Stderr, "gitgen:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "gitgen: planted %s (%d in the working tree) and %s\n", plural.Count(len(planted.Secrets), "secret"), len(planted.InTree()), plural.Count(len(planted.Decoys), "decoy"))
	}
	if *answers {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		var v any = ans
		if planted != nil {
			v = struct {
				*gitgen.Answers
				Secrets *gitgen.SecretAnswers
			}{ans, planted}
		}
		if err := enc.Encode(v); err != nil {
			fmt.Fprintln(os.Stderr, "gitgen:", err)
			os.Exit(1)
		}
	}
}
