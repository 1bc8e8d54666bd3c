package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ami-orchestrator/ami-audit/serve/httpapi"
	"github.com/ami-orchestrator/ami-audit/serve/servetest"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// loadClients append concurrently for loadTime in TestLoad (2 s with
// -short).
const (
	loadClients = 16
	loadTime    = 10 * time.Second
)

// Sixteen clients append single records and small batches over HTTP at
// once; afterwards every acknowledged record is in the trail exactly
// once, nothing else is, and the chain verifies.
func TestLoad(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *servetest.Trail{"sqlite": servetest.New, "postgres": servetest.NewPostgres} {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			s := newServer(t, st, httpapi.Config{Rate: -1})
			before := s.size()
			var acked atomic.Int64
			var mu sync.Mutex
			seen := map[string]bool{}
			d := loadTime
			if testing.Short() {
				d = 2 * time.Second
			}
			deadline := time.Now().Add(d)
			var wg sync.WaitGroup
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients}}
			for c := range loadClients {
				wg.Go(func() {
					for i := 0; time.Now().Before(deadline); i++ {
						body := line(fmt.Sprintf("client-%d", c), fmt.Sprintf("op-%d", i))
						n := 1
						if i%10 == 9 { // every tenth request a batch of five
							body = strings.Repeat(body+"\n", 5)
							n = 5
						}
						req, _ := http.NewRequest("POST", s.url+"/v1/records", strings.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+st.Token["writer"])
						resp, err := client.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						var a httpapi.Appended
						decode(resp, &a)
						if resp.StatusCode != 201 || a.Appended != n {
							t.Errorf("client %d: %d %+v", c, resp.StatusCode, a)
							return
						}
						mu.Lock()
						for _, id := range a.RecordIDs {
							if seen[id] {
								t.Errorf("id %s acknowledged twice", id)
							}
							seen[id] = true
						}
						mu.Unlock()
						acked.Add(int64(n))
					}
				})
			}
			wg.Wait()
			got := s.size() - before
			if got != uint64(acked.Load()) || len(seen) != int(acked.Load()) {
				t.Fatalf("%d records acknowledged (%d ids), %d in the trail", acked.Load(), len(seen), got)
			}
			for r, err := range st.Trail.Store().Range(context.Background(), before, ^uint64(0)) {
				if err != nil {
					t.Fatal(err)
				}
				if !seen[r.RecordID] {
					t.Fatalf("record %d (%s) was never acknowledged", r.Sequence, r.RecordID)
				}
				delete(seen, r.RecordID)
			}
			rep, err := st.Trail.Verify(context.Background(), trail.VerifyOptions{Chain: true})
			if err != nil || !rep.OK {
				t.Fatalf("the chain does not verify: %v", err)
			}
			t.Logf("%s: %d records from %d clients in %s, chain verified", name, acked.Load(), loadClients, loadTime)
		})
	}
}
