package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// NewDOT returns a Writer of a GraphViz digraph: actors (ellipses) did
// records (notes) about targets (boxes); a record points at the record
// before it in the chain when that one is drawn too. When focus is set,
// that target is highlighted and records about other targets are drawn
// as references to it (dotted edges): give them the Neighbourhood's
// References.
func NewDOT(w io.Writer, focus string) Writer {
	d := &dot{w: bufio.NewWriter(w), focus: focus, seen: map[string]bool{}, hashes: map[string]string{}}
	d.printf("digraph provenance {\n\trankdir=LR;\n\tnode [fontname=\"Helvetica\", fontsize=10];\n\tedge [fontname=\"Helvetica\", fontsize=9];\n")
	if focus != "" {
		d.printf("\tlabel=%s;\n\tlabelloc=t;\n", dotString("provenance of "+focus))
	}
	return d
}

type dot struct {
	w      *bufio.Writer
	focus  string
	seen   map[string]bool   // node ids already declared
	hashes map[string]string // record_hash → node id of drawn records
	err    error
}

func (d *dot) printf(format string, args ...any) {
	if d.err == nil {
		_, d.err = fmt.Fprintf(d.w, format, args...)
	}
}

// dotString quotes s as a DOT string; \n in labels is a line break, so a
// backslash of the data is doubled.
func dotString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", ``)
	return `"` + r.Replace(s) + `"`
}

func (d *dot) node(id, attrs string) {
	if d.seen[id] {
		return
	}
	d.seen[id] = true
	d.printf("\t%s [%s];\n", dotString(id), attrs)
}

func (d *dot) target(name string, tt audit.TargetType) string {
	id := "target:" + name
	style := "shape=box"
	if name == d.focus {
		style += ", style=\"filled,bold\", fillcolor=\"#ffe9a8\""
	}
	d.node(id, style+", label="+dotString(name+"\n("+string(tt)+")"))
	return id
}

func (d *dot) Write(r *audit.Record) error {
	rid := "record:" + r.RecordID
	label := fmt.Sprintf("#%d %s\n%s\n%s", r.Sequence, r.Action, r.Timestamp.UTC().Format("2006-01-02 15:04:05"), r.Severity)
	color := ""
	switch r.Severity {
	case audit.SeverityError, audit.SeverityCritical:
		color = ", color=\"#c0392b\""
	case audit.SeverityWarning:
		color = ", color=\"#d68910\""
	}
	d.node(rid, "shape=note"+color+", label="+dotString(label))
	aid := "actor:" + r.Actor
	d.node(aid, "shape=ellipse, label="+dotString(r.Actor))
	tid := d.target(r.Target, r.TargetType)
	d.printf("\t%s -> %s [label=\"did\"];\n", dotString(aid), dotString(rid))
	d.printf("\t%s -> %s [label=\"about\"];\n", dotString(rid), dotString(tid))
	if d.focus != "" && r.Target != d.focus && Mentions(r.Context, d.focus) {
		fid := "target:" + d.focus
		d.node(fid, "shape=box, style=\"filled,bold\", fillcolor=\"#ffe9a8\", label="+dotString(d.focus))
		d.printf("\t%s -> %s [style=dotted, label=\"refers to\"];\n", dotString(rid), dotString(fid))
	}
	if prev, ok := d.hashes[r.PreviousHash]; ok {
		d.printf("\t%s -> %s [style=dashed, color=gray, label=\"previous\"];\n", dotString(rid), dotString(prev))
	}
	d.hashes[r.RecordHash] = rid
	if d.err != nil {
		return fmt.Errorf("record %d: %w", r.Sequence, d.err)
	}
	return nil
}

func (d *dot) Close() error {
	d.printf("}\n")
	if d.err != nil {
		return d.err
	}
	return d.w.Flush()
}
