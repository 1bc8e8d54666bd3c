// Package graph answers provenance questions about a target (the records
// about it, the actors who touched it, the records that refer to it) and
// writes the trail as a graph: Dgraph RDF N-Quads with the matching Dgraph
// schema (types AuditRecord, AuditFinding, AuditViolation, AuditSignature;
// edges previous_record, findings, violations, signatures), and GraphViz
// DOT for people.
package graph

import (
	"context"
	"errors"

	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Neighbourhood is what the trail says about one target.
type Neighbourhood struct {
	Target string `json:"target"`
	// Records are the records about the target, in sequence order.
	Records []*audit.Record `json:"records"`
	// Actors are the actors of those records, by name.
	Actors []Actor `json:"actors"`
	// References are records about other targets whose context names the
	// target (a string value anywhere in it equal to the target), in
	// sequence order.
	References []*audit.Record `json:"references"`
}

// Actor summarises what one actor did to the target.
type Actor struct {
	Actor   string    `json:"actor"`
	Records int       `json:"records"`
	Actions []string  `json:"actions"` // distinct, sorted
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// Provenancer is implemented by stores that answer provenance natively
// (the SQL stores). limit bounds Records and References each; negative
// means no bound.
type Provenancer interface {
	Provenance(ctx context.Context, target string, limit int) (*Neighbourhood, error)
}

// Provenance returns the neighbourhood of target: natively when s (or
// the store it wraps) is a Provenancer, otherwise by a query for the
// records about target and one pass over the trail for the references.
func Provenance(ctx context.Context, s audit.Store, target string, limit int) (*Neighbourhood, error) {
	if target == "" {
		return nil, errors.New("provenance: no target")
	}
	for cur := s; cur != nil; {
		if p, ok := cur.(Provenancer); ok {
			return p.Provenance(ctx, target, limit)
		}
		u, ok := cur.(interface{ Unwrap() audit.Store })
		if !ok {
			break
		}
		cur = u.Unwrap()
	}
	n := &Neighbourhood{Target: target, Records: []*audit.Record{}, References: []*audit.Record{}}
	var actors actorSet
	for r, err := range s.Query(ctx, audit.Filter{Target: target, Limit: -1}) {
		if err != nil {
			return nil, err
		}
		actors.add(r)
		if limit < 0 || len(n.Records) < limit {
			n.Records = append(n.Records, r)
		}
	}
	head, err := s.Head(ctx)
	if err != nil {
		return nil, err
	}
	for r, err := range s.Range(ctx, 0, head.Size) {
		if err != nil {
			return nil, err
		}
		if limit >= 0 && len(n.References) >= limit {
			break
		}
		if r.Target != target && Mentions(r.Context, target) {
			n.References = append(n.References, r)
		}
	}
	n.Actors = actors.list()
	return n, nil
}

// Mentions reports whether s is a string value anywhere in v.
func Mentions(v any, s string) bool {
	switch x := v.(type) {
	case string:
		return x == s
	case map[string]any:
		for _, e := range x {
			if Mentions(e, s) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return Mentions(e, s) })
	}
	return false
}

// actorSet summarises records by actor.
type actorSet map[string]*Actor

func (s *actorSet) add(r *audit.Record) {
	if *s == nil {
		*s = actorSet{}
	}
	a := (*s)[r.Actor]
	if a == nil {
		a = &Actor{Actor: r.Actor, First: r.Timestamp, Last: r.Timestamp}
		(*s)[r.Actor] = a
	}
	a.Records++
	if !slices.Contains(a.Actions, r.Action) {
		a.Actions = append(a.Actions, r.Action)
	}
	if r.Timestamp.Before(a.First) {
		a.First = r.Timestamp
	}
	if r.Timestamp.After(a.Last) {
		a.Last = r.Timestamp
	}
}

func (s actorSet) list() []Actor {
	out := make([]Actor, 0, len(s))
	for _, a := range s {
		slices.Sort(a.Actions)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Actor) int { return strings.Compare(a.Actor, b.Actor) })
	return out
}

// Merged returns the records and references in sequence order: what a
// picture of the neighbourhood draws.
func (n *Neighbourhood) Merged() []*audit.Record {
	out := append(slices.Clone(n.Records), n.References...)
	slices.SortFunc(out, func(a, b *audit.Record) int {
		switch {
		case a.Sequence < b.Sequence:
			return -1
		case a.Sequence > b.Sequence:
			return 1
		}
		return 0
	})
	return out
}
