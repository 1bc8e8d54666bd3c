package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// queryPlan is SQLite's plan for q, its steps joined by " | ".
func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	return strings.Join(steps, " | ")
}

// Every query the store runs finds its rows through the index it needs:
// no query that names a target, an actor, an action, a record type, a
// severity or a record id reads the whole table, and one that names a
// target uses the target's index (a target has few records; its record
// type or action may have millions). The plans are SQLite's own, asked
// with EXPLAIN QUERY PLAN.
func TestQueryPlans(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
	defer s.Close()
	now := time.Now()
	for _, tc := range []struct {
		name   string
		f      audit.Filter
		index  string // the index the plan must use
		sorted bool   // the plan may sort (the index does not give seq order)
	}{
		{"provenance, forget: by target", audit.Filter{Target: "svc/api"}, "records_target", false},
		{"retention holds: by action", audit.Filter{Action: "retention_hold"}, "records_action", false},
		{"file, quality sources: by record type", audit.Filter{TargetType: audit.TargetFile}, "records_target_type", false},
		{"log source: by record type and action", audit.Filter{TargetType: audit.TargetLog, Action: "log_file"}, "records_", false},
		{"git, module, service sources: newest of an action about a target", audit.Filter{TargetType: audit.TargetGit, Action: "git_commit", Target: "repo", Newest: true, Limit: 1}, "records_target", false},
		{"log tail, schedule: newest of an action about a target", audit.Filter{Action: "log_entry", Target: "api", Newest: true, Limit: 1}, "records_target", false},
		{"security analyzer: latest module audits", audit.Filter{Action: "module_audit", TargetType: audit.TargetModule}, "records_", false},
		{"query --user", audit.Filter{Actor: "ci"}, "records_actor", false},
		{"query --user --action", audit.Filter{Actor: "ci", Action: "deploy"}, "records_", false},
		{"query --severity", audit.Filter{Severity: audit.SeverityError}, "records_severity", true},
		{"query --since --until, compliance assessment, evidence packets: a period", audit.Filter{Since: now.Add(-time.Hour), Until: now, Limit: -1}, "records_timestamp", true},
		{"query --since", audit.Filter{Since: now.Add(-time.Hour)}, "records_timestamp", true},
		{"retention: older than", audit.Filter{Until: now.Add(-time.Hour)}, "records_timestamp", true},
		{"query --module --since", audit.Filter{Target: "base", Since: now.Add(-time.Hour)}, "records_target", false},
		{"query --user --severity --since", audit.Filter{Actor: "ci", Severity: audit.SeverityWarning, Since: now.Add(-time.Hour)}, "records_", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			where, args := whereClause(tc.f)
			for _, order := range []string{"ASC", "DESC"} {
				plan := queryPlan(t, s, `SELECT seq FROM records`+where+` ORDER BY seq `+order+` LIMIT 100`, args...)
				if !strings.Contains(plan, "USING INDEX "+tc.index) {
					t.Errorf("%s: plan %q, want index %s", order, plan, tc.index)
				}
				if !tc.sorted && strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("%s: plan %q sorts the rows its index gives in order", order, plan)
				}
			}
		})
	}
	for name, q := range map[string]string{
		"get, sign, status: by record id": `SELECT seq FROM records WHERE record_id = ?`,
		"tree hashes":                     `SELECT tree FROM records WHERE seq = ?`,
		"verification":                    selectRaw,
		"verification values":             selectRawValues,
		"provenance actors":               `SELECT actor, count(*) FROM records WHERE target = ? GROUP BY actor`,
	} {
		plan := queryPlan(t, s, q, 1, 2)
		if strings.Contains(plan, "SCAN ") {
			t.Errorf("%s: plan %q reads the whole table", name, plan)
		}
	}
	// The tip: the last row in seq order, and no other.
	if plan := queryPlan(t, s, selectTip); plan != "SCAN records" {
		t.Errorf("tip: plan %q, want the table in seq order (stopping at its first row)", plan)
	}
}

// A store of schema 3 is upgraded when opened with write access: its
// index on (action, target, seq) becomes one on action, and it still
// verifies and answers queries by action.
func TestUpgradeFromSchema3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s := open(t, path, nil)
	for i := range 5 {
		if err := s.Append(ctx, []*audit.Record{newRecord(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`DROP INDEX records_action`, `CREATE INDEX records_action_target ON records (action, target, seq)`,
		`UPDATE meta SET value = '3' WHERE key = 'schema_version'`} {
		if _, err := s.wdb.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var indexes []string
	rows, err := s.db.Query(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'records' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		indexes = append(indexes, n)
	}
	rows.Close()
	want := "records_action records_actor records_severity records_target records_target_type records_timestamp"
	if got := strings.Join(indexes, " "); got != want {
		t.Errorf("indexes after the upgrade: %s, want %s", got, want)
	}
	verify(t, s)
	n := 0
	for _, err := range s.Query(ctx, audit.Filter{Action: "append", Limit: -1}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Errorf("query by action after the upgrade: %d records, want 5", n)
	}
}
