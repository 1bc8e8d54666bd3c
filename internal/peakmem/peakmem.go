// Package peakmem samples a process's memory while a benchmark runs: the
// peak live heap, the peak the Go runtime held from the system and the
// peak resident set, so that "memory stays flat" is a reported figure.
package peakmem

import (
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"time"
)

// Every is how often the heap is sampled.
const Every = 5 * time.Millisecond

// Sampler samples until Stop.
type Sampler struct {
	stop, done  chan struct{}
	heap, gomem atomic.Uint64
}

// Peak is what a Sampler saw, in bytes.
type Peak struct {
	Heap    uint64 // live heap objects
	Runtime uint64 // memory the Go runtime held from the system, less what it released
	RSS     uint64 // the process's peak resident set (VmHWM); 0 where the system does not say
}

// Start collects garbage, resets the process's peak resident set (where
// /proc/self/clear_refs allows it) and samples until Stop.
func Start() *Sampler {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *Sampler) run() {
	defer close(s.done)
	m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		metrics.Read(m)
		if v := m[0].Value.Uint64(); v > s.heap.Load() {
			s.heap.Store(v)
		}
		if v := m[1].Value.Uint64() - m[2].Value.Uint64(); v > s.gomem.Load() {
			s.gomem.Store(v)
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Stop ends the sampling and returns the peaks.
func (s *Sampler) Stop() Peak {
	close(s.stop)
	<-s.done
	return Peak{Heap: s.heap.Load(), Runtime: s.gomem.Load(), RSS: peakRSS()}
}

// MB is n bytes in mebibytes, for ReportMetric.
func MB(n uint64) float64 { return float64(n) / (1 << 20) }

// peakRSS reads VmHWM from /proc/self/status, 0 when it cannot.
func peakRSS() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			if f := bytes.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseUint(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
