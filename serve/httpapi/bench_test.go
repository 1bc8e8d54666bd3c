package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
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
