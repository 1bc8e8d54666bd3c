package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/httpapi"
	"github.com/ami-orchestrator/ami-audit/serve/servetest"
)

// benchClients append at once in the append benchmarks.
const benchClients = 16

// BenchmarkAppend16 measures durable single-record appends by 16
// concurrent clients on SQLite: over the HTTP API (each request one
// record, authenticated, stamped, masked, acknowledged after the group
// commit's sync), and as the baseline the store's Append called directly
// by 16 goroutines in the same process. Both report records/s.
func BenchmarkAppend16(b *testing.B) {
	b.Run("http", func(b *testing.B) {
		st := servetest.New(b)
		s := newServer(b, st, httpapi.Config{Rate: -1})
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
		run16(b, func(c, i int) error {
			req, _ := http.NewRequest("POST", s.url+"/v1/records", strings.NewReader(line(fmt.Sprint("client-", c), fmt.Sprint("op-", i))))
			req.Header.Set("Authorization", "Bearer "+st.Token["writer"])
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	})
	b.Run("store", func(b *testing.B) {
		st := servetest.New(b)
		store := st.Trail.Store()
		run16(b, func(c, i int) error {
			r := &audit.Record{Actor: fmt.Sprint("client-", c), Action: fmt.Sprint("op-", i), Target: "svc/api", TargetType: audit.TargetService}
			r.Normalize()
			return store.Append(context.Background(), []*audit.Record{r})
		})
	})
}

// run16 runs b.N appends spread over benchClients goroutines and reports
// records/s.
func run16(b *testing.B, appendOne func(client, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > b.N {
					return
				}
				if err := appendOne(c, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// benchRecords is the size of the trail the query benchmark reads, from
// AMI_AUDIT_BENCH_RECORDS (default 1,000,000, the size the target is
// stated for).
func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("AMI_AUDIT_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkQueryByActor measures GET /v1/records?actor=…&limit=100 over a
// trail of benchRecords records by 1,000 actors (so each actor has about
// a thousand records spread over the whole trail; fewer actors in a
// smaller trail), and as the baseline
// the store's Query with the same filter in the same process; it reports
// the p50 and p99 latency of each. The trail is built once, with one
// AppendStream.
func BenchmarkQueryByActor(b *testing.B) {
	st := servetest.New(b)
	n := benchRecords()
	actors := max(1, min(1000, n/200)) // at least 200 records each

	seq := func(yield func(*audit.Record, error) bool) {
		for i := range n {
			r := audit.New(fmt.Sprintf("user-%03d@example.com", i%actors), "deploy", "svc/api-"+strconv.Itoa(i%500), audit.TargetService)
			r.Context = map[string]any{"version": "1." + strconv.Itoa(i%50), "build": i}
			if !yield(r, nil) {
				return
			}
		}
	}
	start := time.Now()
	got, err := st.Trail.Store().(interface {
		AppendStream(context.Context, iter.Seq2[*audit.Record, error]) (int, error)
	}).AppendStream(context.Background(), seq)
	if err != nil || got != n {
		b.Fatalf("building the trail: %d records, %v", got, err)
	}
	b.Logf("built a trail of %d records in %s", n, time.Since(start).Round(time.Millisecond))
	s := newServer(b, st, httpapi.Config{Rate: -1})
	client := &http.Client{}
	b.Run("http", func(b *testing.B) {
		latencies(b, func(i int) error {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/records?actor=user-%03d@example.com&limit=100", s.url, (i*7919)%actors), nil)
			req.Header.Set("Authorization", "Bearer "+st.Token["reader"])
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			var p serve.Page
			decode(resp, &p)
			if resp.StatusCode != 200 || len(p.Records) != 100 {
				return fmt.Errorf("status %d, %d records", resp.StatusCode, len(p.Records))
			}
			return nil
		})
	})
	b.Run("store", func(b *testing.B) {
		latencies(b, func(i int) error {
			k := 0
			for _, err := range st.Trail.Store().Query(context.Background(), audit.Filter{Actor: fmt.Sprintf("user-%03d@example.com", (i*7919)%actors), Limit: 100}) {
				if err != nil {
					return err
				}
				k++
			}
			if k != 100 {
				return fmt.Errorf("%d records", k)
			}
			return nil
		})
	})
}

// latencies runs query b.N times and reports the p50 and p99 latency.
func latencies(b *testing.B, query func(i int) error) {
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := query(i); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)*50/100].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(d[min(len(d)*99/100, len(d)-1)].Microseconds())/1000, "p99-ms")
}
