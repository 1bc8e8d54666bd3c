package postgres

import (
	"context"
	"strconv"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/graph"
)

// Provenance implements graph.Provenancer in SQL: the records about
// target, the actors who touched it (grouped in the database), and the
// records about other targets whose context holds target as a string
// value anywhere (a JSON path query over the context column).
func (s *Store) Provenance(ctx context.Context, target string, limit int) (*graph.Neighbourhood, error) {
	lim := ""
	if limit >= 0 {
		lim = " LIMIT " + strconv.Itoa(limit)
	}
	n := &graph.Neighbourhood{Target: target, Records: []*audit.Record{}, Actors: []graph.Actor{}, References: []*audit.Record{}}
	for r, err := range s.records(ctx, nil, selectRecord+` WHERE r.target = $1 ORDER BY r.sequence`+lim, text(target)) {
		if err != nil {
			return nil, err
		}
		n.Records = append(n.Records, r)
	}
	rows, err := s.pool.Query(ctx, `SELECT actor, count(*), array_agg(DISTINCT action ORDER BY action), min(timestamp_ns), max(timestamp_ns)
FROM audit_records WHERE target = $1 GROUP BY actor ORDER BY actor`, text(target))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a graph.Actor
		var first, last string
		var count int64
		if err := rows.Scan(&a.Actor, &count, &a.Actions, &first, &last); err != nil {
			rows.Close()
			return nil, err
		}
		a.Records = int(count)
		a.First, _ = time.Parse(time.RFC3339Nano, first)
		a.Last, _ = time.Parse(time.RFC3339Nano, last)
		n.Actors = append(n.Actors, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for r, err := range s.records(ctx, nil, selectRecord+` WHERE r.target <> $1
	AND jsonb_path_exists(r.context, '$.** ? (@ == $t)', jsonb_build_object('t', $1::text))
ORDER BY r.sequence`+lim, text(target)) {
		if err != nil {
			return nil, err
		}
		n.References = append(n.References, r)
	}
	return n, nil
}
