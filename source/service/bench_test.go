package service

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// BenchmarkServices checks a 30-service manifest, half of them down behind
// a 1 s timeout (an HTTP server that never answers in time), and reports
// the run's time against that longest single timeout: under 2 is the
// target (the checks run concurrently).
//
//	go test -run '^$' -bench Services -benchtime 5x ./source/service
func BenchmarkServices(b *testing.B) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer hang.Close()
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	const timeout = time.Second
	root := b.TempDir()
	var m strings.Builder
	m.WriteString("services:\n")
	for i := range 30 {
		url := up.URL
		if i%2 == 1 {
			url = hang.URL
		}
		fmt.Fprintf(&m, "  s%02d: {health: {http: {url: %q, timeout: %g}}}\n", i, url, timeout.Seconds())
	}
	writeFile(b, root, "scripts/config/services.yaml", m.String())
	src, err := New(Config{NoEngine: true, Trail: &memtrail.Trail{}})
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		down := 0
		err := src.Collect(context.Background(), root, func(r *audit.Record) error {
			if r.Context["state"] == StateDown {
				down++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		if down != 15 {
			b.Fatalf("%d services down, want 15", down)
		}
	}
	per := total / time.Duration(b.N)
	b.ReportMetric(per.Seconds(), "run-s")
	b.ReportMetric(timeout.Seconds(), "longest-timeout-s")
	b.ReportMetric(per.Seconds()/timeout.Seconds(), "run/timeout")
}
