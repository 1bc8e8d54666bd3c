package log

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// hbucket is one timeline bucket: its count, the first and last instants
// in it, and a Misra–Gries summary of its three most frequent patterns.
type hbucket struct {
	n           int64
	first, last int64
	ids         [3]int64
	cnt         [3]int64
}

// vote counts k lines of pattern id in the summary.
func (b *hbucket) vote(id, k int64) {
	for i := range b.ids {
		if b.cnt[i] > 0 && b.ids[i] == id {
			b.cnt[i] += k
			return
		}
	}
	for k > 0 {
		for i := range b.ids {
			if b.cnt[i] == 0 {
				b.ids[i], b.cnt[i] = id, k
				return
			}
		}
		m := min(k, b.cnt[0], b.cnt[1], b.cnt[2])
		for i := range b.cnt {
			b.cnt[i] -= m
		}
		k -= m
	}
}

// histogram counts timeline entries per bucket of res nanoseconds. It
// holds at most max buckets: when one more is needed, res doubles and
// buckets merge, so the final resolution is the finest power-of-two
// multiple of one second at which the entries fit, whatever their order.
type histogram struct {
	res int64
	max int
	m   map[int64]*hbucket
}

func newHistogram(max int) *histogram {
	return &histogram{res: int64(time.Second), max: max, m: map[int64]*hbucket{}}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (h *histogram) add(ns, id int64) {
	k := floorDiv(ns, h.res)
	b := h.m[k]
	if b == nil {
		for len(h.m) >= h.max {
			h.coarsen()
		}
		k = floorDiv(ns, h.res)
		b = h.m[k]
		if b == nil {
			b = &hbucket{first: ns, last: ns}
			h.m[k] = b
		}
	}
	b.n++
	b.first = min(b.first, ns)
	b.last = max(b.last, ns)
	b.vote(id, 1)
}

func (h *histogram) coarsen() {
	h.res *= 2
	m := make(map[int64]*hbucket, len(h.m)/2+1)
	for k, b := range h.m {
		nk := floorDiv(k, 2)
		into := m[nk]
		if into == nil {
			m[nk] = b
			continue
		}
		into.n += b.n
		into.first = min(into.first, b.first)
		into.last = max(into.last, b.last)
		for i := range b.ids {
			if b.cnt[i] > 0 {
				into.vote(b.ids[i], b.cnt[i])
			}
		}
	}
	h.m = m
}

func (h *histogram) keys() []int64 {
	keys := make([]int64, 0, len(h.m))
	for k := range h.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// bursts finds the runs of buckets in which a window of the given length
// (rounded up to whole buckets) holds at least min entries. A qualifying
// window that starts inside a burst extends it; one that starts after its
// last bucket begins a new burst.
func (h *histogram) bursts(window time.Duration, min int, names map[int64]string) []Burst {
	keys := h.keys()
	w := int64(window) / h.res
	if int64(window)%h.res != 0 || w == 0 {
		w++
	}
	var out []Burst
	var cur *Burst
	var curHi int64 // last key in the current burst
	var dom map[int64]int64
	flush := func() {
		if cur == nil {
			return
		}
		for id, n := range dom {
			cur.Dominant = append(cur.Dominant, DominantPattern{ID: id, Template: names[id], AtLeast: n})
		}
		slices.SortFunc(cur.Dominant, func(a, b DominantPattern) int {
			return cmp.Or(cmp.Compare(b.AtLeast, a.AtLeast), strings.Compare(a.Template, b.Template), cmp.Compare(a.ID, b.ID))
		})
		if len(cur.Dominant) > 3 {
			cur.Dominant = cur.Dominant[:3]
		}
		out = append(out, *cur)
		cur = nil
	}
	j := 0
	var sum int64
	for i, k := range keys {
		for j < len(keys) && keys[j] < k+w {
			sum += h.m[keys[j]].n
			j++
		}
		if sum >= int64(min) {
			if cur == nil || k > curHi {
				flush()
				cur = &Burst{}
				dom = map[int64]int64{}
			}
			for x := i; x < j; x++ {
				if cur.Errors > 0 && keys[x] <= curHi {
					continue
				}
				b := h.m[keys[x]]
				if cur.Errors == 0 {
					cur.Start = time.Unix(0, b.first).UTC()
				}
				cur.Errors += b.n
				cur.End = time.Unix(0, b.last).UTC()
				for y := range b.ids {
					if b.cnt[y] > 0 {
						dom[b.ids[y]] += b.cnt[y]
					}
				}
				curHi = keys[x]
			}
			cur.Peak = max(cur.Peak, sum)
		}
		sum -= h.m[k].n
	}
	flush()
	return out
}

// niceSteps are the timeline steps a chart may use.
var niceSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour,
	91 * 24 * time.Hour, 365 * 24 * time.Hour,
}

// timeline spreads the buckets over at most maxBins steps of a round
// length, from the step holding the first entry to the one holding the
// last; steps without entries count zero.
func (h *histogram) timeline(maxBins int) Timeline {
	if len(h.m) == 0 {
		return Timeline{}
	}
	lo, hi := int64(1<<63-1), int64(-1<<63)
	for _, b := range h.m {
		lo, hi = min(lo, b.first), max(hi, b.last)
	}
	span := hi - lo
	step := niceSteps[len(niceSteps)-1]
	for _, s := range niceSteps {
		if int64(s) >= h.res && span/int64(s) < int64(maxBins) {
			step = s
			break
		}
	}
	for span/int64(step) >= int64(maxBins) {
		step *= 2
	}
	start := floorDiv(lo, int64(step)) * int64(step)
	n := floorDiv(hi, int64(step)) - floorDiv(lo, int64(step)) + 1
	counts := make([]int64, n)
	for _, b := range h.m {
		counts[floorDiv(b.first, int64(step))-floorDiv(lo, int64(step))] += b.n
	}
	return Timeline{Start: time.Unix(0, start).UTC(), Step: step, Counts: counts}
}
