package graph

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
)

// Formats lists the graph formats NewWriter accepts.
var Formats = []string{"dgraph-rdf", "dot"}

// Valid reports whether format is a graph format.
func Valid(format string) bool {
	for _, f := range Formats {
		if strings.EqualFold(f, format) {
			return true
		}
	}
	return false
}

// Writer writes a stream of records as a graph. Close finishes the
// document; it does not close the underlying io.Writer.
type Writer interface {
	Write(r *audit.Record) error
	Close() error
}

// DgraphSchema is the Dgraph schema of the RDF that NewRDF writes: load
// it first (dgraph live --schema, or the bulk loader's -s).
const DgraphSchema = `# Dgraph schema of an ami-audit trail (SPEC §5), for the RDF N-Quads
# written by 'ami-audit export --format=dgraph-rdf'.

record_id: string @index(exact) @upsert .
record_hash: string @index(exact) @upsert .
sequence: int @index(int) .
timestamp: datetime @index(hour) .
actor: string @index(exact, term) .
action: string @index(exact) .
target: string @index(exact, term) .
target_type: string @index(exact) .
source: string @index(exact) .
reason: string @index(fulltext) .
context: string .
metadata: string .
previous_hash: string @index(exact) .
nonce: int .
severity: string @index(exact) .
classification: string @index(exact) .
status: string @index(exact) .
previous_record: uid @reverse .
findings: [uid] @reverse .
violations: [uid] @reverse .
signatures: [uid] @reverse .

finding_id: string @index(exact) .
finding_type: string @index(exact) .
description: string @index(fulltext) .
location: string .
recommendation: string .

violation_id: string @index(exact) .
rule: string @index(exact) .
message: string @index(fulltext) .
file_path: string @index(exact) .
line_number: int .
column_number: int .

signer: string @index(exact) .
signature: string .
algorithm: string .

type AuditRecord {
	record_id
	record_hash
	sequence
	timestamp
	actor
	action
	target
	target_type
	source
	reason
	context
	metadata
	previous_hash
	nonce
	severity
	classification
	status
	previous_record
	findings
	violations
	signatures
}

type AuditFinding {
	finding_id
	finding_type
	severity
	description
	location
	recommendation
	metadata
}

type AuditViolation {
	violation_id
	rule
	severity
	message
	file_path
	line_number
	column_number
}

type AuditSignature {
	signer
	signature
	algorithm
	timestamp
}
`

// NewRDF returns a Writer of Dgraph RDF N-Quads. Every record is the node
// _:r<record_hash> (so previous_record can point at the record before it
// by its hash, even when that record is not in the export); its findings,
// violations and signatures are nodes of their own.
func NewRDF(w io.Writer) Writer { return &rdf{w: bufio.NewWriterSize(w, 64<<10)} }

type rdf struct {
	w   *bufio.Writer
	err error
}

func (x *rdf) quad(subj, pred, obj string) {
	if x.err != nil {
		return
	}
	_, x.err = fmt.Fprintf(x.w, "%s <%s> %s .\n", subj, pred, obj)
}

// lit is an N-Quads string literal.
func lit(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func typed(s, typ string) string { return lit(s) + "^^<xs:" + typ + ">" }

func intLit(n uint64) string { return typed(strconv.FormatUint(n, 10), "int") }

func jsonLit(m map[string]any) string {
	if len(m) == 0 {
		return lit("{}")
	}
	b, err := canonical.Marshal(m)
	if err != nil {
		return lit("{}")
	}
	return lit(string(b))
}

func recordNode(hash string) string { return "_:r" + hash }

func (x *rdf) Write(r *audit.Record) error {
	n := recordNode(r.RecordHash)
	x.quad(n, "dgraph.type", lit("AuditRecord"))
	x.quad(n, "record_id", lit(r.RecordID))
	x.quad(n, "record_hash", lit(r.RecordHash))
	x.quad(n, "sequence", intLit(r.Sequence))
	x.quad(n, "timestamp", typed(audit.FormatTime(r.Timestamp), "dateTime"))
	x.quad(n, "actor", lit(r.Actor))
	x.quad(n, "action", lit(r.Action))
	x.quad(n, "target", lit(r.Target))
	x.quad(n, "target_type", lit(string(r.TargetType)))
	x.quad(n, "source", lit(r.Source))
	x.quad(n, "reason", lit(r.Reason))
	x.quad(n, "context", jsonLit(r.Context))
	x.quad(n, "metadata", jsonLit(r.Metadata))
	x.quad(n, "previous_hash", lit(r.PreviousHash))
	x.quad(n, "nonce", intLit(r.Nonce))
	x.quad(n, "severity", lit(string(r.Severity)))
	x.quad(n, "classification", lit(r.Classification))
	x.quad(n, "status", lit(string(r.Status)))
	if r.PreviousHash != audit.GenesisHash && r.PreviousHash != "" {
		x.quad(n, "previous_record", recordNode(r.PreviousHash))
	}
	for i, f := range r.Findings {
		fn := fmt.Sprintf("_:f%s.%d", r.RecordHash, i)
		x.quad(n, "findings", fn)
		x.quad(fn, "dgraph.type", lit("AuditFinding"))
		x.quad(fn, "finding_id", lit(f.FindingID))
		x.quad(fn, "finding_type", lit(f.FindingType))
		x.quad(fn, "severity", lit(string(f.Severity)))
		x.quad(fn, "description", lit(f.Description))
		if f.Location != "" {
			x.quad(fn, "location", lit(f.Location))
		}
		if f.Recommendation != "" {
			x.quad(fn, "recommendation", lit(f.Recommendation))
		}
		x.quad(fn, "metadata", jsonLit(f.Metadata))
	}
	for i, v := range r.Violations {
		vn := fmt.Sprintf("_:v%s.%d", r.RecordHash, i)
		x.quad(n, "violations", vn)
		x.quad(vn, "dgraph.type", lit("AuditViolation"))
		x.quad(vn, "violation_id", lit(v.ViolationID))
		x.quad(vn, "rule", lit(v.Rule))
		x.quad(vn, "severity", lit(string(v.Severity)))
		x.quad(vn, "message", lit(v.Message))
		if v.FilePath != "" {
			x.quad(vn, "file_path", lit(v.FilePath))
		}
		if v.LineNumber != 0 {
			x.quad(vn, "line_number", intLit(uint64(v.LineNumber)))
		}
		if v.ColumnNumber != 0 {
			x.quad(vn, "column_number", intLit(uint64(v.ColumnNumber)))
		}
	}
	for i, s := range r.Signatures {
		sn := fmt.Sprintf("_:s%s.%d", r.RecordHash, i)
		x.quad(n, "signatures", sn)
		x.quad(sn, "dgraph.type", lit("AuditSignature"))
		x.quad(sn, "signer", lit(s.Signer))
		x.quad(sn, "signature", lit(s.Signature))
		x.quad(sn, "algorithm", lit(s.Algorithm))
		x.quad(sn, "timestamp", typed(audit.FormatTime(s.Timestamp), "dateTime"))
	}
	if x.err != nil {
		return fmt.Errorf("record %d: %w", r.Sequence, x.err)
	}
	return nil
}

func (x *rdf) Close() error {
	if x.err != nil {
		return x.err
	}
	return x.w.Flush()
}
