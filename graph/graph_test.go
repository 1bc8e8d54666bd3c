package graph

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a small linked trail with every kind of node and some
// hostile strings.
func fixture(t *testing.T) []*audit.Record {
	t.Helper()
	at := func(min int) time.Time { return time.Date(2025, 6, 1, 9, min, 0, 123456789, time.UTC) }
	id := func(n int) string {
		return "01970000-0000-7000-8000-0000000000" + string(rune('0'+n/10)) + string(rune('0'+n%10))
	}
	recs := []*audit.Record{
		{RecordID: id(1), Timestamp: at(0), Actor: "ci", Action: "deploy", Target: "svc/api", TargetType: audit.TargetService,
			Source: "cli", Reason: "release 1.4", Context: map[string]any{"version": "1.4"}},
		{RecordID: id(2), Timestamp: at(5), Actor: "alice", Action: "commit", Target: "svc/api", TargetType: audit.TargetService,
			Source: "git_source", Reason: "fix \"quoted\" path C:\\tmp\nsecond line\ttab \x01",
			Findings: []audit.Finding{{FindingID: "01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4f01", FindingType: "secret", Severity: audit.SeverityError, Description: "AWS key", Location: "api/config.py:12",
				Recommendation: "rotate it", Metadata: map[string]any{"rule": "aws-access-key"}}},
			Violations: []audit.Violation{{ViolationID: "01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4f02", Rule: "E501", Severity: audit.SeverityWarning, Message: "line too long", FilePath: "api/app.py", LineNumber: 3, ColumnNumber: 81}},
			Severity:   audit.SeverityError},
		{RecordID: id(3), Timestamp: at(7), Actor: "bob", Action: "scan", Target: "lib/core", TargetType: audit.TargetModule,
			Source: "module_source", Context: map[string]any{"imported_by": []any{"svc/web", "svc/api"}}},
		{RecordID: id(4), Timestamp: at(9), Actor: "ci", Action: "rollback", Target: "svc/api", TargetType: audit.TargetService,
			Source: "cli", Reason: "ünïcode ✓", Severity: audit.SeverityWarning,
			Signatures: []audit.Signature{{Signer: "alice", Signature: "c2lnbmF0dXJl", Algorithm: audit.AlgorithmEd25519, Timestamp: at(10)}}},
		{RecordID: id(5), Timestamp: at(11), Actor: "dave", Action: "deploy", Target: "svc/web", TargetType: audit.TargetService, Source: "cli"},
	}
	entries, _, err := ledger.Link(audit.Head{}, recs, ledger.Params{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(recs) {
		t.Fatal("not linked")
	}
	return recs
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-golden +got):\n%s", name, diff)
	}
}

func render(t *testing.T, w Writer, buf *bytes.Buffer, recs []*audit.Record) []byte {
	t.Helper()
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRDFGolden(t *testing.T) {
	var buf bytes.Buffer
	golden(t, "trail.rdf", render(t, NewRDF(&buf), &buf, fixture(t)))
}

func TestDOTGolden(t *testing.T) {
	recs := fixture(t)
	n := &Neighbourhood{Target: "svc/api"}
	for _, r := range recs {
		switch {
		case r.Target == "svc/api":
			n.Records = append(n.Records, r)
		case Mentions(r.Context, "svc/api"):
			n.References = append(n.References, r)
		}
	}
	var buf bytes.Buffer
	golden(t, "svc-api.dot", render(t, NewDOT(&buf, "svc/api"), &buf, n.Merged()))
	var all bytes.Buffer
	golden(t, "trail.dot", render(t, NewDOT(&all, ""), &all, recs))
}

func TestLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           `"plain"`,
		`a"b`:             `"a\"b"`,
		`C:\x`:            `"C:\\x"`,
		"l1\nl2\r\t":      `"l1\nl2\r\t"`,
		"bell\x07del\x7f": `"bell\u0007del\u007F"`,
		"ü✓":              `"ü✓"`,
	} {
		if got := lit(in); got != want {
			t.Errorf("lit(%q) = %s, want %s", in, got, want)
		}
	}
}

// schema is the parsed subset of Dgraph schema syntax DgraphSchema uses:
// predicate definitions and type definitions.
type schema struct {
	preds map[string]pred
	types map[string][]string
}

type pred struct {
	typ        string // string, int, datetime, uid, …
	list       bool
	directives []string
}

var (
	predLine  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.]*):\s*(\[)?(string|int|float|bool|datetime|uid|geo|password|default)(\])?((?:\s+@[a-z]+(?:\([a-z, ]+\))?)*)\s*\.$`)
	typeStart = regexp.MustCompile(`^type\s+([A-Z][A-Za-z0-9_]*)\s*\{$`)
	fieldLine = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
	directive = regexp.MustCompile(`@([a-z]+)(?:\(([a-z, ]+)\))?`)
)

// tokenizers lists the index tokenizers Dgraph offers per scalar type.
var tokenizers = map[string][]string{
	"string":   {"exact", "hash", "term", "fulltext", "trigram"},
	"int":      {"int"},
	"float":    {"float"},
	"bool":     {"bool"},
	"datetime": {"year", "month", "day", "hour"},
}

func parseSchema(text string) (s schema, err error) {
	s = schema{preds: map[string]pred{}, types: map[string][]string{}}
	inType := ""
	type parseError struct{ error }
	defer func() {
		if e, ok := recover().(parseError); ok {
			err = e.error
		}
	}()
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		fail := func(msg string) { panic(parseError{fmt.Errorf("schema line %d %q: %s", n+1, line, msg)}) }
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case inType != "":
			if line == "}" {
				inType = ""
				continue
			}
			if !fieldLine.MatchString(line) {
				fail("not a field name")
			}
			s.types[inType] = append(s.types[inType], line)
		case typeStart.MatchString(line):
			inType = typeStart.FindStringSubmatch(line)[1]
			if _, dup := s.types[inType]; dup {
				fail("type defined twice")
			}
			s.types[inType] = nil
		default:
			m := predLine.FindStringSubmatch(line)
			if m == nil {
				fail("not a predicate definition")
			}
			if (m[2] == "[") != (m[4] == "]") {
				fail("unbalanced list brackets")
			}
			if _, dup := s.preds[m[1]]; dup {
				fail("predicate defined twice")
			}
			p := pred{typ: m[3], list: m[2] == "["}
			for _, d := range directive.FindAllStringSubmatch(m[5], -1) {
				p.directives = append(p.directives, d[1])
				switch d[1] {
				case "index":
					if d[2] == "" {
						fail("@index needs tokenizers")
					}
					for _, tok := range strings.Split(d[2], ",") {
						if !slices.Contains(tokenizers[p.typ], strings.TrimSpace(tok)) {
							fail("tokenizer " + tok + " does not apply to " + p.typ)
						}
					}
				case "reverse":
					if p.typ != "uid" {
						fail("@reverse is only for uid predicates")
					}
				case "upsert":
					if !strings.Contains(m[5], "@index") {
						fail("@upsert needs @index")
					}
				case "count", "lang", "noconflict":
				default:
					fail("unknown directive @" + d[1])
				}
			}
			s.preds[m[1]] = p
		}
	}
	if inType != "" {
		return s, fmt.Errorf("schema: type %s is not closed", inType)
	}
	return s, nil
}

func mustParse(t *testing.T) schema {
	t.Helper()
	s, err := parseSchema(DgraphSchema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchemaParses(t *testing.T) {
	s := mustParse(t)
	for _, typ := range []string{"AuditRecord", "AuditFinding", "AuditViolation", "AuditSignature"} {
		fields, ok := s.types[typ]
		if !ok {
			t.Errorf("type %s is missing", typ)
		}
		for _, f := range fields {
			if _, ok := s.preds[f]; !ok {
				t.Errorf("type %s field %s has no predicate definition", typ, f)
			}
		}
	}
	for name, want := range map[string]pred{
		"previous_record": {typ: "uid"},
		"findings":        {typ: "uid", list: true},
		"violations":      {typ: "uid", list: true},
		"signatures":      {typ: "uid", list: true},
	} {
		got := s.preds[name]
		if got.typ != want.typ || got.list != want.list || !slices.Contains(got.directives, "reverse") {
			t.Errorf("edge %s is %+v, want %+v with @reverse", name, got, want)
		}
	}
	// The parser rejects what Dgraph rejects.
	for _, bad := range []string{"x: strng .", "x: int @index(exact) .", "x: string @reverse .", "x: [uid .", "type T {\nx\n", "x: string"} {
		if _, err := parseSchema(bad); err == nil {
			t.Errorf("parser accepted %q", bad)
		}
	}
}

var (
	quadLine = regexp.MustCompile(`^(_:[A-Za-z0-9_.-]+) <([A-Za-z_][A-Za-z0-9_.]*)> (.+) \.$`)
	litObj   = regexp.MustCompile(`^"((?:[^"\\]|\\["\\nrtbf]|\\u[0-9A-F]{4})*)"(?:\^\^<xs:(int|dateTime)>)?$`)
	nodeObj  = regexp.MustCompile(`^_:[A-Za-z0-9_.-]+$`)
)

// TestRDFMatchesSchema reads the golden RDF back as N-Quads and checks
// each quad against the schema: declared predicate, object of the
// declared kind, and a predicate of the node's type.
func TestRDFMatchesSchema(t *testing.T) {
	s := mustParse(t)
	b, err := os.ReadFile(filepath.Join("testdata", "trail.rdf"))
	if err != nil {
		t.Fatal(err)
	}
	nodeType := map[string]string{}
	type use struct{ node, pred string }
	var uses []use
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		m := quadLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d is not an N-Quad: %s", n+1, line)
		}
		node, name, obj := m[1], m[2], m[3]
		if name == "dgraph.type" {
			nodeType[node] = strings.Trim(obj, `"`)
			continue
		}
		p, ok := s.preds[name]
		if !ok {
			t.Errorf("line %d: predicate %s is not in the schema", n+1, name)
			continue
		}
		uses = append(uses, use{node, name})
		var kind string
		switch lm := litObj.FindStringSubmatch(obj); {
		case nodeObj.MatchString(obj):
			kind = "uid"
		case lm == nil:
			t.Errorf("line %d: object %s is neither a node nor a literal", n+1, obj)
			continue
		case lm[2] == "int":
			kind = "int"
		case lm[2] == "dateTime":
			kind = "datetime"
			if _, err := time.Parse(time.RFC3339Nano, lm[1]); err != nil {
				t.Errorf("line %d: %v", n+1, err)
			}
		default:
			kind = "string"
		}
		if kind != p.typ {
			t.Errorf("line %d: %s holds a %s, the schema says %s", n+1, name, kind, p.typ)
		}
	}
	for _, u := range uses {
		typ := nodeType[u.node]
		if !slices.Contains(s.types[typ], u.pred) {
			t.Errorf("node %s of type %q has predicate %s, not a field of its type", u.node, typ, u.pred)
		}
	}
	for _, typ := range []string{"AuditRecord", "AuditFinding", "AuditViolation", "AuditSignature"} {
		found := false
		for _, v := range nodeType {
			found = found || v == typ
		}
		if !found {
			t.Errorf("the fixture has no %s node", typ)
		}
	}
}
