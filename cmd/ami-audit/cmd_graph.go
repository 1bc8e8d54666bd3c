package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/graph"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
)

// exportGraph writes the records matching ff as Dgraph RDF (with the
// schema beside it) or as a GraphViz picture; with --target the picture
// is the target's neighbourhood (its records, and the records that refer
// to it).
func (a *App) exportGraph(ctx context.Context, ff *filterFlags, format, output, schemaPath string) error {
	f, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	format = strings.ToLower(format)
	if format == "dgraph-rdf" && schemaPath == "" && output != "" && output != "-" {
		schemaPath = strings.TrimSuffix(output, filepath.Ext(output)) + ".schema"
	}
	if format != "dgraph-rdf" && schemaPath != "" {
		return usagef("--schema goes with --format=dgraph-rdf")
	}
	if err := a.checkOutput(schemaPath); err != nil {
		return err
	}
	s, err := a.openExisting(ctx)
	if err != nil {
		return err
	}
	n := 0
	err = a.writeOutput(output, func(w io.Writer) error {
		var gw graph.Writer
		recs := s.Query(ctx, f)
		switch format {
		case "dgraph-rdf":
			gw = graph.NewRDF(w)
		case "dot":
			gw = graph.NewDOT(w, f.Target)
			if f.Target != "" {
				nb, err := graph.Provenance(ctx, s, f.Target, f.EffectiveLimit())
				if err != nil {
					return err
				}
				recs = func(yield func(*audit.Record, error) bool) {
					for _, r := range nb.Merged() {
						if !yield(r, nil) {
							return
						}
					}
				}
			}
		}
		for r, err := range recs {
			if err != nil {
				return err
			}
			if err := gw.Write(r); err != nil {
				return err
			}
			n++
		}
		return gw.Close()
	})
	if err != nil {
		return err
	}
	if schemaPath != "" {
		if err := a.writeOutput(schemaPath, func(w io.Writer) error { _, err := io.WriteString(w, graph.DgraphSchema); return err }); err != nil {
			return err
		}
	}
	if output != "" && output != "-" {
		a.notice("exported %s to %s", plural.Count(n, "record"), output)
		if schemaPath != "" {
			a.notice("Dgraph schema written to %s (load it first: dgraph live --schema %s --files %s)", schemaPath, schemaPath, output)
		}
	} else if format == "dgraph-rdf" && schemaPath == "" {
		a.notice("give --schema FILE to write the Dgraph schema too")
	}
	return nil
}

// printNeighbourhood prints the provenance of target: its records, the
// actors who touched it and the records that refer to it.
func (a *App) printNeighbourhood(ctx context.Context, s audit.Store, target, format, output string, limit int) error {
	nb, err := graph.Provenance(ctx, s, target, limit)
	if err != nil {
		return err
	}
	return a.writeOutput(output, func(w io.Writer) error {
		switch format {
		case "json":
			b, err := json.MarshalIndent(nb, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		case "table":
			fmt.Fprintf(w, "provenance of %s: %s, %s, %s referring to it\n\n", target, plural.Count(len(nb.Records), "record"),
				plural.Count(len(nb.Actors), "actor"), plural.Count(len(nb.References), "record"))
			for _, ac := range nb.Actors {
				fmt.Fprintf(w, "actor %s: %s (%s), %s .. %s\n", oneLine(ac.Actor), plural.Count(ac.Records, "record"), strings.Join(ac.Actions, ", "),
					ac.First.UTC().Format(time.DateTime), ac.Last.UTC().Format(time.DateTime))
			}
			for _, part := range []struct {
				title string
				recs  []*audit.Record
			}{{"records about it", nb.Records}, {"records referring to it", nb.References}} {
				if len(part.recs) == 0 {
					continue
				}
				fmt.Fprintf(w, "\n%s:\n", part.title)
				tw := newTableWriter(w)
				for _, r := range part.recs {
					if err := tw.Write(r); err != nil {
						return err
					}
				}
				if err := tw.Close(); err != nil {
					return err
				}
			}
			return nil
		}
		return usagef("--neighbourhood prints table or json, not %s", format)
	})
}

// provenanceLimit maps --limit (0: none) to graph.Provenance's limit.
func provenanceLimit(limit int) int {
	if limit == 0 {
		return -1
	}
	return limit
}
