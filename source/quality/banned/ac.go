package banned

// acMatcher finds every occurrence of a set of literals in one pass
// (Aho-Corasick, as a full transition table). ASCII letters match in either
// case: the table maps upper-case bytes like lower-case ones, so content is
// not copied to be lower-cased.
type acMatcher struct {
	next []int32   // state*256 + byte → state
	out  [][]int32 // state → literals ending here (by index)
	lens []int     // literal lengths
}

func newACMatcher(lits [][]byte) *acMatcher {
	m := &acMatcher{next: make([]int32, 256), out: [][]int32{nil}}
	for i := range m.next {
		m.next[i] = -1
	}
	for id, lit := range lits {
		m.lens = append(m.lens, len(lit))
		s := int32(0)
		for _, c := range lit {
			t := m.next[int(s)*256+int(c)]
			if t < 0 {
				t = int32(len(m.out))
				m.out = append(m.out, nil)
				for range 256 {
					m.next = append(m.next, -1)
				}
				m.next[int(s)*256+int(c)] = t
			}
			s = t
		}
		m.out[s] = append(m.out[s], int32(id))
	}
	// Breadth-first: failure links become transitions.
	fail := make([]int32, len(m.out))
	var queue []int32
	for c := range 256 {
		if t := m.next[c]; t < 0 {
			m.next[c] = 0
		} else {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(m.out[s], m.out[fail[s]]...)
		for c := range 256 {
			i := int(s)*256 + c
			if t := m.next[i]; t < 0 {
				m.next[i] = m.next[int(fail[s])*256+c]
			} else {
				fail[t] = m.next[int(fail[s])*256+c]
				queue = append(queue, t)
			}
		}
	}
	// Upper-case ASCII letters go where lower-case ones do.
	for s := range m.out {
		for c := 'A'; c <= 'Z'; c++ {
			m.next[s*256+int(c)] = m.next[s*256+int(c+'a'-'A')]
		}
	}
	return m
}

// scan calls fn with the literal index and the offset just past its end,
// for every occurrence, in order of end offset.
func (m *acMatcher) scan(b []byte, fn func(id int32, end int)) {
	s := int32(0)
	next := m.next
	for i, c := range b {
		s = next[int(s)<<8|int(c)]
		if out := m.out[s]; len(out) > 0 {
			for _, id := range out {
				fn(id, i+1)
			}
		}
	}
}
