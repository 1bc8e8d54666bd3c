package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/graph"
)

// Provenance implements graph.Provenancer in SQL: the records about
// target in order, its actors grouped by the database, and the records
// about other targets whose context holds target as a string value
// (found with json_tree). limit bounds records and references each;
// negative means no bound.
func (s *Store) Provenance(ctx context.Context, target string, limit int) (*graph.Neighbourhood, error) {
	n := &graph.Neighbourhood{Target: target, Records: []*audit.Record{}, Actors: []graph.Actor{}, References: []*audit.Record{}}
	if limit != 0 { // Filter's zero limit means the default, not none
		for r, err := range s.Query(ctx, audit.Filter{Target: target, Limit: max(limit, -1)}) {
			if err != nil {
				return nil, err
			}
			n.Records = append(n.Records, r)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT actor, count(*), json_group_array(DISTINCT action), min(timestamp), max(timestamp)
FROM records WHERE target = ? GROUP BY actor ORDER BY actor`, target)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a graph.Actor
		var actions, first, last string
		if err := rows.Scan(&a.Actor, &a.Records, &actions, &first, &last); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(actions), &a.Actions); err != nil {
			rows.Close()
			return nil, fmt.Errorf("provenance actions: %w", err)
		}
		slices.Sort(a.Actions)
		a.First, _ = time.Parse(time.RFC3339Nano, first)
		a.Last, _ = time.Parse(time.RFC3339Nano, last)
		n.Actors = append(n.Actors, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	lim := ""
	if limit >= 0 {
		lim = fmt.Sprintf(" LIMIT %d", limit)
	}
	refs, err := s.db.QueryContext(ctx, `WITH m AS (
	SELECT seq FROM records WHERE target <> ? AND pruned_by IS NULL
	AND EXISTS (SELECT 1 FROM json_tree(CAST(body AS TEXT), '$.context') WHERE type = 'text' AND atom = ?)
	ORDER BY seq`+lim+`)
SELECT `+recordColumns+` FROM m JOIN records r ON r.seq = m.seq LEFT JOIN signatures s ON s.seq = r.seq ORDER BY r.seq, s.signer`, target, target)
	if err != nil {
		return nil, err
	}
	var ferr error
	scanRecords(refs, func(r *audit.Record, err error) bool {
		if err != nil {
			ferr = err
			return false
		}
		n.References = append(n.References, r)
		return true
	})
	return n, ferr
}
