package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// benchStore opens a store in a schema of its own, dropped at the end.
func benchStore(b *testing.B) *Store {
	b.Helper()
	url := storetest.ServerURL(b, storetest.EnvPostgres, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	schema := storetest.RandomName("bench_")
	s, err := Open(context.Background(), Config{URL: url, Schema: schema, Create: true, MaxConns: 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(context.Background())
		}
	})
	return s
}

// BenchmarkConcurrentWriters: 16 writers each appending one record at a
// time and waiting for it to be durable, against the same 16 writers
// inserting the same rows (same columns, same indexes, each INSERT its
// own durable transaction) into a plain table, measured in the same run.
//
//	go test ./store/postgres -run '^$' -bench ConcurrentWriters -benchtime 20000x
func BenchmarkConcurrentWriters(b *testing.B) {
	const writers = 16
	ctx := context.Background()
	s := benchStore(b)
	// The baseline's rows: the same records linked as the store would.
	recs := make([]*audit.Record, b.N)
	for i := range recs {
		recs[i] = storetest.Sample(i)
	}
	entries, _, err := ledger.Link(audit.Head{}, recs, ledger.Params{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, b.N)
	for i := range entries {
		var side sideRows
		if rows[i], err = recordRow(&entries[i], &side); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `CREATE TABLE plain_records (LIKE audit_records INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	insert := `INSERT INTO plain_records (` + joinColumns(recordColumns) + `) VALUES (` + placeholders(len(recordColumns)) + `)`
	run := func(work func(i int) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		start := time.Now()
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					if err := work(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	plain := run(func(i int) error {
		_, err := s.pool.Exec(ctx, insert, rows[i]...)
		return err
	})
	fresh := make([]*audit.Record, b.N)
	for i := range fresh {
		fresh[i] = storetest.Sample(i)
	}
	ledgerTime := run(func(i int) error { return s.Append(ctx, []*audit.Record{fresh[i]}) })
	b.StopTimer()
	if h, _ := s.Head(ctx); h.Size != uint64(b.N) {
		b.Fatalf("stored %d of %d", h.Size, b.N)
	}
	ledgerRate := float64(b.N) / ledgerTime.Seconds()
	plainRate := float64(b.N) / plain.Seconds()
	b.ReportMetric(ledgerRate, "records/s")
	b.ReportMetric(plainRate, "plain-inserts/s")
	b.ReportMetric(ledgerRate/plainRate, "ratio")
}

func joinColumns(cols []string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += c
	}
	return out
}

func placeholders(n int) string {
	out := ""
	for i := 1; i <= n; i++ {
		if i > 1 {
			out += ", "
		}
		out += fmt.Sprintf("$%d", i)
	}
	return out
}

// BenchmarkImport streams b.N records into an empty store in one
// AppendStream (linked as they arrive, COPY), and, as the baseline in the
// same run, COPYs the same rows, built beforehand, into a table of the
// same shape (same columns and indexes) with no linking at all.
//
//	go test ./store/postgres -run '^$' -bench Import -benchtime 1000000x
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b)
	if _, err := s.pool.Exec(ctx, `CREATE TABLE plain_records (LIKE audit_records INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	n, err := s.AppendStream(ctx, func(yield func(*audit.Record, error) bool) {
		for i := range b.N {
			if !yield(storetest.Sample(i), nil) {
				return
			}
		}
	})
	imported := time.Since(start)
	b.StopTimer()
	if err != nil || n != b.N {
		b.Fatalf("imported %d of %d: %v", n, b.N, err)
	}
	// The baseline: the stored rows, read back and copied again, in
	// chunks as the import copies them.
	var copied time.Duration
	for from := 0; from < b.N; from += copyChunk {
		// context and metadata as text, so that the baseline copies
		// JSON text as the import does.
		cols := strings.Replace(strings.Replace(joinColumns(recordColumns), "context", "context::text", 1), "metadata", "metadata::text", 1)
		rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM audit_records WHERE sequence >= $1 AND sequence < $2`, from, from+copyChunk)
		if err != nil {
			b.Fatal(err)
		}
		var chunk [][]any
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				b.Fatal(err)
			}
			chunk = append(chunk, v)
		}
		rows.Close()
		start := time.Now()
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"plain_records"}, recordColumns, pgx.CopyFromRows(chunk)); err != nil {
			b.Fatal(err)
		}
		copied += time.Since(start)
	}
	rate := float64(b.N) / imported.Seconds()
	base := float64(b.N) / copied.Seconds()
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(base, "plain-copy/s")
	b.ReportMetric(rate/base, "ratio")
}
