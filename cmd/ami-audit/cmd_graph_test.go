package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/graph"
)

// TestGraphCommands exports a small trail as Dgraph RDF with its schema
// and as a DOT neighbourhood, and prints the neighbourhood as JSON.
func TestGraphCommands(t *testing.T) {
	dir := t.TempDir()
	ad := filepath.Join(dir, ".audit")
	cli := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, append([]string{"--audit-dir", ad}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	cli("init")
	cli("record", "--actor", "ci", "--action", "deploy", "--target", "svc/api", "--target-type", "service")
	cli("record", "--actor", "alice", "--action", "commit", "--target", "svc/api", "--target-type", "service")
	cli("record", "--actor", "bob", "--action", "scan", "--target", "lib/core", "--target-type", "module", "--context", "user=svc/api")
	cli("record", "--actor", "bob", "--action", "scan", "--target", "lib/other", "--target-type", "module")

	rdf := filepath.Join(dir, "trail.rdf")
	cli("export", "--format=dgraph-rdf", "--output="+rdf)
	b, err := os.ReadFile(rdf)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `<dgraph.type> "AuditRecord"`); n != 4 {
		t.Errorf("RDF has %d records, want 4", n)
	}
	if n := strings.Count(string(b), "<previous_record>"); n != 3 {
		t.Errorf("RDF has %d previous_record edges, want 3", n)
	}
	schema, err := os.ReadFile(filepath.Join(dir, "trail.schema"))
	if err != nil || string(schema) != graph.DgraphSchema {
		t.Errorf("schema beside the export: %v", err)
	}

	dot := cli("export", "--format=dot", "--target=svc/api")
	for _, want := range []string{`"actor:alice" -> `, `-> "target:svc/api" [style=dotted, label="refers to"]`, `label="provenance of svc/api"`} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot)
		}
	}
	if strings.Contains(dot, "lib/other") {
		t.Errorf("DOT of svc/api draws an unrelated record:\n%s", dot)
	}

	var nb graph.Neighbourhood
	if err := json.Unmarshal([]byte(cli("query", "--provenance", "svc/api", "--neighbourhood", "--format=json")), &nb); err != nil {
		t.Fatal(err)
	}
	if len(nb.Records) != 2 || len(nb.References) != 1 || len(nb.Actors) != 2 || nb.Actors[0].Actor != "alice" || nb.References[0].Target != "lib/core" {
		t.Errorf("neighbourhood: %d records, %d references, actors %+v", len(nb.Records), len(nb.References), nb.Actors)
	}
	if code, _, stderr := runCLI(t, "--audit-dir", ad, "query", "--neighbourhood"); code != exitUsage {
		t.Errorf("--neighbourhood without --provenance: exit %d %s", code, stderr)
	}
}
