package poll_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/collector/stream/poll"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// changes is a source that, like the service source, records a state only
// when the trail's newest record of it says otherwise.
type changes struct {
	trail *memtrail.Trail
	state atomic.Value // string
	runs  atomic.Int32
	fail  atomic.Bool
}

func (c *changes) Name() string                    { return "changes" }
func (c *changes) Describe() string                { return "" }
func (c *changes) TargetTypes() []audit.TargetType { return nil }
func (c *changes) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	c.runs.Add(1)
	if c.fail.Load() {
		return errors.New("manifest unreadable")
	}
	now := c.state.Load().(string)
	last := ""
	for r := range c.trail.Query(ctx, audit.Filter{Target: target, Newest: true, Limit: 1}) {
		last, _ = r.Context["state"].(string)
	}
	if now == last {
		return nil
	}
	r := audit.New("t", "state", target, audit.TargetService)
	r.Context = map[string]any{"state": now}
	r.Normalize()
	return emit(r)
}

func TestEachChangeOnce(t *testing.T) {
	var tr memtrail.Trail
	src := &changes{trail: &tr}
	src.state.Store("up")
	p, err := poll.New(poll.Config{Source: src, Target: "svc", Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	col, _ := stream.New(&tr, stream.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, p) }()
	for _, s := range []string{"down", "up"} {
		time.Sleep(80 * time.Millisecond)
		src.state.Store(s)
	}
	time.Sleep(80 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tr.Records() {
		got = append(got, r.Context["state"].(string))
	}
	if strings.Join(got, " ") != "up down up" || src.runs.Load() < 10 {
		t.Fatalf("recorded %v in %d runs", got, src.runs.Load())
	}
}

func TestFailuresInARow(t *testing.T) {
	var tr memtrail.Trail
	src := &changes{trail: &tr}
	src.state.Store("up")
	src.fail.Store(true)
	p, _ := poll.New(poll.Config{Source: src, Target: "svc", Interval: 5 * time.Millisecond, Failures: 3})
	col, _ := stream.New(&tr, stream.Config{})
	err := col.Run(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "3 runs in a row failed: manifest unreadable") {
		t.Fatalf("err %v", err)
	}
}
