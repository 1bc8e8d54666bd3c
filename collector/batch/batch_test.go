package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// memAppender is an in-memory trail: it numbers records like a store and
// keeps them unless discard is set.
type memAppender struct {
	mu      sync.Mutex
	recs    []*audit.Record
	n       uint64
	calls   int
	discard bool
	// fail, when set, is asked before each append.
	fail func(recs []*audit.Record) error
	// block, when set, is waited on before each append.
	block chan struct{}
}

func (m *memAppender) Append(ctx context.Context, recs []*audit.Record) error {
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		if err := m.fail(recs); err != nil {
			return err
		}
	}
	m.calls++
	for _, r := range recs {
		m.n++
		r.Sequence = m.n // 1-based here, so that 0 means "not appended"
	}
	if !m.discard {
		m.recs = append(m.recs, recs...)
	}
	return nil
}

func (m *memAppender) count() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

func (m *memAppender) bySource() map[string][]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]int{}
	for _, r := range m.recs {
		out[r.Source] = append(out[r.Source], r.Context["i"].(int))
	}
	return out
}

// fakeSource emits n records numbered 0..n-1 (every tenth a warning,
// every hundredth an error), then returns err.
type fakeSource struct {
	name string
	n    int
	err  error
	// before, when set, runs before each emit; an error stops the source.
	before func(ctx context.Context, i int) error
	// start, when set, runs once when collection starts.
	start func()
}

func (s *fakeSource) Name() string                    { return s.name }
func (s *fakeSource) Describe() string                { return "test source " + s.name }
func (s *fakeSource) TargetTypes() []audit.TargetType { return []audit.TargetType{audit.TargetFile} }

func (s *fakeSource) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	if s.start != nil {
		s.start()
	}
	for i := 0; s.n < 0 || i < s.n; i++ {
		if s.before != nil {
			if err := s.before(ctx, i); err != nil {
				return err
			}
		}
		r := audit.New("tester", "test_emit", fmt.Sprintf("%s/%d", target, i), audit.TargetFile)
		r.Context = map[string]any{"i": i}
		switch {
		case i%100 == 0:
			r.Severity = audit.SeverityError
		case i%10 == 0:
			r.Severity = audit.SeverityWarning
		}
		r.Normalize()
		if err := emit(r); err != nil {
			return err
		}
	}
	return s.err
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestParallelSources(t *testing.T) {
	app := &memAppender{}
	c, err := New(app, Config{BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	srcs := []audit.Source{
		&fakeSource{name: "a", n: 1000},
		&fakeSource{name: "b", n: 250},
		&fakeSource{name: "c", n: 0},
	}
	sum, err := c.Run(t.Context(), "repo", srcs)
	if err != nil {
		t.Fatal(err)
	}
	// Every record arrives, in the order its source emitted it.
	want := map[string][]int{"a": seq(1000), "b": seq(250)}
	if diff := cmp.Diff(want, app.bySource()); diff != "" {
		t.Errorf("appended records (-want +got):\n%s", diff)
	}
	got := make([]SourceSummary, len(sum.Sources))
	for i, s := range sum.Sources {
		if s.Duration <= 0 && s.Records > 0 {
			t.Errorf("%s: duration %v", s.Name, s.Duration)
		}
		s.Duration = 0
		got[i] = s
	}
	wantSum := []SourceSummary{
		{Name: "a", Records: 1000, Batches: 10, Warnings: 90, Errors: 10},
		{Name: "b", Records: 250, Batches: 3, Warnings: 22, Errors: 3},
		{Name: "c"},
	}
	if diff := cmp.Diff(wantSum, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if sum.Records() != 1250 || len(sum.Failed()) != 0 || sum.Target != "repo" {
		t.Errorf("Records() = %d, Failed() = %v, Target = %q", sum.Records(), sum.Failed(), sum.Target)
	}
	if app.calls != 13 {
		t.Errorf("%d Append calls, want 13", app.calls)
	}
}

func TestParallelismIsBounded(t *testing.T) {
	for _, limit := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			var active, peak atomic.Int32
			var srcs []audit.Source
			for i := range 6 {
				srcs = append(srcs, &fakeSource{name: fmt.Sprint(i), n: 5, start: func() {
					n := active.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
					active.Add(-1)
				}})
			}
			c, _ := New(&memAppender{}, Config{Parallel: limit})
			if _, err := c.Run(t.Context(), "t", srcs); err != nil {
				t.Fatal(err)
			}
			if got := peak.Load(); got != int32(limit) {
				t.Errorf("peak of %d sources at once, want %d", got, limit)
			}
		})
	}
}

func TestFailingSourceKeepsOthers(t *testing.T) {
	app := &memAppender{}
	c, _ := New(app, Config{BatchSize: 1000})
	boom := errors.New("corrupt object 1234abcd")
	srcs := []audit.Source{
		&fakeSource{name: "good", n: 1500},
		&fakeSource{name: "bad", n: 2500, err: boom},
		&fakeSource{name: "panics", n: 3, before: func(_ context.Context, i int) error {
			if i == 2 {
				panic("index out of range")
			}
			return nil
		}},
	}
	sum, err := c.Run(t.Context(), "t", srcs)
	if !errors.Is(err, boom) || !errors.Is(err, ErrSourceFailed) {
		t.Fatalf("Run error = %v, want it to wrap %v and ErrSourceFailed", err, boom)
	}
	// What the failing source emitted before failing is kept, and so is
	// everything of the good source.
	want := map[string][]int{"good": seq(1500), "bad": seq(2500), "panics": seq(2)}
	if diff := cmp.Diff(want, app.bySource()); diff != "" {
		t.Errorf("appended records (-want +got):\n%s", diff)
	}
	failed := sum.Failed()
	if len(failed) != 2 || failed[0].Name != "bad" || failed[1].Name != "panics" {
		t.Fatalf("Failed() = %+v", failed)
	}
	if msg := failed[0].Err.Error(); !strings.Contains(msg, "bad") || !strings.Contains(msg, "corrupt object") {
		t.Errorf("bad source error %q does not say which source and why", msg)
	}
	if msg := failed[1].Err.Error(); !strings.Contains(msg, "panic: index out of range") {
		t.Errorf("panicking source error %q", msg)
	}
	if sum.Sources[0].Err != nil || sum.Sources[0].Records != 1500 {
		t.Errorf("good source: %+v", sum.Sources[0])
	}
}

func TestAppendFailureStopsOnlyThatSource(t *testing.T) {
	full := errors.New("disk full")
	app := &memAppender{fail: func(recs []*audit.Record) error {
		if recs[0].Source == "doomed" && recs[0].Context["i"].(int) >= 200 {
			return full
		}
		return nil
	}}
	c, _ := New(app, Config{BatchSize: 100})
	var emitted atomic.Int64
	srcs := []audit.Source{
		&fakeSource{name: "doomed", n: 100000, before: func(context.Context, int) error { emitted.Add(1); return nil }},
		&fakeSource{name: "fine", n: 500},
	}
	sum, err := c.Run(t.Context(), "t", srcs)
	if !errors.Is(err, full) {
		t.Fatalf("Run error = %v, want %v", err, full)
	}
	d := sum.Sources[0]
	if d.Records != 200 || d.Batches != 2 || !errors.Is(d.Err, full) {
		t.Errorf("doomed source: %+v", d)
	}
	// The source stopped soon after the failure instead of running on.
	if n := emitted.Load(); n > 1000 {
		t.Errorf("source emitted %d records after its appends failed", n)
	}
	if d.Unappended < 100 {
		t.Errorf("Unappended = %d, want at least the failed batch", d.Unappended)
	}
	if f := sum.Sources[1]; f.Records != 500 || f.Err != nil {
		t.Errorf("fine source: %+v", f)
	}
}

// A slow source's records reach the trail after FlushInterval, before the
// batch is full and before the source finishes.
func TestFlushInterval(t *testing.T) {
	app := &memAppender{}
	c, _ := New(app, Config{BatchSize: 1000, FlushInterval: 20 * time.Millisecond})
	src := &fakeSource{name: "slow", n: 4, before: func(ctx context.Context, i int) error {
		if i < 3 {
			return nil
		}
		// Wait for the first three to be appended.
		deadline := time.Now().Add(5 * time.Second)
		for app.count() < 3 {
			if time.Now().After(deadline) {
				return errors.New("records were not flushed while the source ran")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	}}
	sum, err := c.Run(t.Context(), "t", []audit.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if s := sum.Sources[0]; s.Records != 4 || s.Batches != 2 {
		t.Errorf("summary %+v, want 4 records in 2 batches", s)
	}
}

func TestCancellation(t *testing.T) {
	app := &memAppender{discard: true}
	c, _ := New(app, Config{BatchSize: 50})
	ctx, cancel := context.WithCancel(t.Context())
	endless := func(name string) *fakeSource {
		return &fakeSource{name: name, n: -1, before: func(ctx context.Context, i int) error {
			if i == 5000 && name == "a" {
				cancel()
			}
			return nil
		}}
	}
	done := make(chan struct{})
	var sum *Summary
	var err error
	go func() {
		sum, err = c.Run(ctx, "t", []audit.Source{endless("a"), endless("b")})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	for _, s := range sum.Sources {
		if !errors.Is(s.Err, context.Canceled) {
			t.Errorf("%s: Err = %v, want context.Canceled", s.Name, s.Err)
		}
	}
	if total := uint64(sum.Records()); total != app.count() || total < 4000 {
		t.Errorf("summary says %d records, trail has %d", total, app.count())
	}
}

// Without analyzers nothing is gathered: a source whose records cannot be
// appended is held back after a bounded number of records.
func TestBackpressure(t *testing.T) {
	app := &memAppender{block: make(chan struct{})}
	c, _ := New(app, Config{BatchSize: 10})
	var emitted atomic.Int64
	src := &fakeSource{name: "fast", n: 100000, before: func(context.Context, int) error { emitted.Add(1); return nil }}
	done := make(chan error)
	go func() {
		_, err := c.Run(t.Context(), "t", []audit.Source{src})
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	// One batch is waiting in Append, one is queued for the writer and one
	// is being handed over by the blocked emit.
	if n := emitted.Load(); n > 3*10 {
		t.Errorf("source emitted %d records while the trail accepted none", n)
	}
	close(app.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if app.count() != 100000 {
		t.Errorf("%d records appended", app.count())
	}
}

// countAnalyzer counts the records of this run it reads and reports one
// finding saying how many.
type countAnalyzer struct {
	name  string
	reads []string
	seqs  []uint64
}

func (a *countAnalyzer) Name() string          { return a.name }
func (a *countAnalyzer) Understands() []string { return a.reads }
func (a *countAnalyzer) Analyze(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	n := 0
	for r, err := range in.Appended {
		if err != nil {
			return nil, err
		}
		a.seqs = append(a.seqs, r.Sequence)
		n++
	}
	return []string{"count"}, report(audit.Detected{Key: "count", Check: "count", Target: in.Target, TargetType: audit.TargetGit,
		Finding: audit.Finding{FindingType: "count", Severity: audit.SeverityInfo, Description: fmt.Sprint(n)}})
}

func TestAnalyzers(t *testing.T) {
	trail := &memtrail.Trail{}
	all := &countAnalyzer{name: "all", reads: []string{"a", "b"}}
	onlyB := &countAnalyzer{name: "onlyb", reads: []string{"b"}}
	var hook sync.Map
	c, err := New(trail, Config{BatchSize: 64, Trail: trail, Analyzers: []audit.Analyzer{all, onlyB},
		OnAppend: func(source string, recs []*audit.Record) {
			v, _ := hook.LoadOrStore(source, new(int))
			*v.(*int) += len(recs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(t.Context(), "t", []audit.Source{&fakeSource{name: "a", n: 700}, &fakeSource{name: "b", n: 300}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range sum.Analyzers {
		if a.Err != nil {
			t.Errorf("%s: %v", a.Analyzer, a.Err)
		}
		got[a.Analyzer] = fmt.Sprintf("%d new, open: %s", a.New, a.Open[0].Findings[0].Description)
	}
	want := map[string]string{
		"all":   "1 new, open: 1000",
		"onlyb": "1 new, open: 300",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("analyzers (-want +got):\n%s", diff)
	}
	// Analyzers see every record of the run once, after it was appended.
	seen := map[uint64]bool{}
	for _, s := range all.seqs {
		if seen[s] {
			t.Fatalf("sequence %d seen twice", s)
		}
		seen[s] = true
	}
	if v, _ := hook.Load("a"); v == nil || *v.(*int) != 700 {
		t.Errorf("OnAppend saw %v records of a, want 700", v)
	}
	// The findings are in the trail, after the sources' records.
	if n := trail.Len(); n != 1002 {
		t.Errorf("trail holds %d records, want 1002", n)
	}
	// A second run reads only its own records: nothing was appended by
	// the sources, so the finding changes ("0") and is recorded again.
	all.seqs = nil
	sum, err = c.Run(t.Context(), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.seqs) != 0 || sum.Analyzers[0].Changed != 1 {
		t.Errorf("second run: read %d records, %d changed findings; want 0 and 1", len(all.seqs), sum.Analyzers[0].Changed)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{{Parallel: -1}, {BatchSize: -1}, {FlushInterval: -time.Second}, {Analyzers: []audit.Analyzer{&countAnalyzer{name: "x"}}}} {
		if _, err := New(&memAppender{}, cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New accepted a nil appender")
	}
}

// BenchmarkRun measures the collector's overhead: "direct" (the baseline)
// runs the two sources in goroutines, each appending its own batches of
// DefaultBatchSize to a discarding appender; "collector" runs the same
// sources through Run.
func BenchmarkRun(b *testing.B) {
	const n = 50000
	sources := func() []audit.Source {
		return []audit.Source{&fakeSource{name: "a", n: n}, &fakeSource{name: "b", n: n}}
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for _, s := range sources() {
				wg.Go(func() {
					app := &memAppender{discard: true}
					batch := make([]*audit.Record, 0, DefaultBatchSize)
					s.Collect(context.Background(), "t", func(r *audit.Record) error {
						batch = append(batch, r)
						if len(batch) == DefaultBatchSize {
							app.Append(context.Background(), batch)
							batch = batch[:0]
						}
						return nil
					})
					app.Append(context.Background(), batch)
				})
			}
			wg.Wait()
		}
	})
	b.Run("collector", func(b *testing.B) {
		for b.Loop() {
			c, _ := New(&memAppender{discard: true}, Config{})
			if _, err := c.Run(context.Background(), "t", sources()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMaskBeforeAppend: every record passes Config.Mask before the store
// and the OnAppend hook see it.
func TestMaskBeforeAppend(t *testing.T) {
	app := &memAppender{}
	var masked atomic.Int64
	var seen []string
	c, err := New(app, Config{
		BatchSize: 10,
		Mask: func(r *audit.Record) {
			masked.Add(1)
			r.Target = "[masked]"
		},
		OnAppend: func(_ string, recs []*audit.Record) {
			for _, r := range recs {
				seen = append(seen, r.Target)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background(), "t", []audit.Source{&fakeSource{name: "a", n: 25}, &fakeSource{name: "b", n: 7}}); err != nil {
		t.Fatal(err)
	}
	if masked.Load() != 32 {
		t.Errorf("masked %d records, want 32", masked.Load())
	}
	for _, r := range app.recs {
		if r.Target != "[masked]" {
			t.Fatalf("appended unmasked target %q", r.Target)
		}
	}
	if len(seen) != 32 || seen[0] != "[masked]" {
		t.Errorf("OnAppend saw %d records, first %q", len(seen), seen[0])
	}
}

// TestKeep drops the records Config.Keep refuses (what retention would
// prune at once) and counts them.
func TestKeep(t *testing.T) {
	app := &memAppender{}
	c, err := New(app, Config{BatchSize: 7, Keep: func(r *audit.Record) bool { return r.Context["i"].(int)%3 != 0 }})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(context.Background(), "t", []audit.Source{&fakeSource{name: "a", n: 30}})
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range 30 {
		if i%3 != 0 {
			want = append(want, i)
		}
	}
	if diff := cmp.Diff(map[string][]int{"a": want}, app.bySource()); diff != "" {
		t.Errorf("appended (-want +got):\n%s", diff)
	}
	if s := sum.Sources[0]; s.Records != 20 || s.Expired != 10 {
		t.Errorf("summary: %d appended, %d expired; want 20 and 10", s.Records, s.Expired)
	}
}
