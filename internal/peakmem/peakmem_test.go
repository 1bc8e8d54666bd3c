package peakmem

import (
	"runtime"
	"testing"
	"time"
)

var sink [][]byte

// A heap that grows by 64 MiB while sampled shows in the peak, and the
// peak stays once it is freed again.
func TestPeakSeesAGrowingHeap(t *testing.T) {
	s := Start()
	for range 64 {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // resident, not only reserved
		}
		sink = append(sink, b)
	}
	time.Sleep(4 * Every)
	sink = nil
	runtime.GC()
	time.Sleep(2 * Every)
	p := s.Stop()
	if p.Heap < 60<<20 {
		t.Errorf("peak heap %.1f MB, want at least 60", MB(p.Heap))
	}
	if p.Runtime < p.Heap {
		t.Errorf("runtime memory %.1f MB below the heap's %.1f", MB(p.Runtime), MB(p.Heap))
	}
	if runtime.GOOS == "linux" && p.RSS < 60<<20 {
		t.Errorf("peak RSS %.1f MB, want at least 60", MB(p.RSS))
	}
}
