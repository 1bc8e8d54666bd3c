// Package poll is the stream of `watch --service`: it runs a source every
// Config.Interval — the service source, which checks the services' health
// and records a service_state record only when a state changed — until it
// is stopped. A run starts only once the records of the previous one are
// durable, so that the source, comparing with the trail, never records the
// same change twice.
package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
)

// DefaultInterval is the time between two runs.
const DefaultInterval = 10 * time.Second

// Config configures a Poller.
type Config struct {
	// Source runs over Target every Interval (DefaultInterval).
	Source   audit.Source
	Target   string
	Interval time.Duration
	// Failures is how many runs in a row may fail before the stream
	// stops (default 3); a failed run is logged and tried again.
	Failures int
	// Logger receives what fails (default: discarded).
	Logger *slog.Logger
}

// Poller is a stream.Stream.
type Poller struct{ cfg Config }

// New returns a poller.
func New(cfg Config) (*Poller, error) {
	if cfg.Source == nil {
		return nil, errors.New("poll: no source")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Failures <= 0 {
		cfg.Failures = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Poller{cfg: cfg}, nil
}

// Name is the source's.
func (p *Poller) Name() string { return p.cfg.Source.Name() }

// Follow runs the source now and every Interval until ctx ends.
func (p *Poller) Follow(ctx context.Context, emit stream.Emit) error {
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	failed := 0
	for {
		err := stream.Collect(ctx, p.cfg.Source, p.cfg.Target, emit)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failed++
			p.cfg.Logger.Warn("run failed", "source", p.cfg.Source.Name(), "err", err)
			if failed >= p.cfg.Failures {
				return fmt.Errorf("%d runs in a row failed: %w", failed, err)
			}
		default:
			failed = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
