package file

import "strings"

// A compiled gitignore glob. Matching works on bytes, as git's wildmatch
// does, and never backtracks more than once per wildcard: a path element
// is matched against "C0*C1*…*Ck" by fixing C0 to its start and Ck to its
// end and finding C1…Ck-1 leftmost in order, which is exact for "*"; the
// same holds one level up, with "**" between groups of elements. So a
// match costs at most (pattern length × element length) byte comparisons
// per element, with no regular expression: a hostile ignore file cannot
// make the walk crawl.

// atom kinds
const (
	atomByte  = iota // one given byte
	atomAny          // "?": any byte but '/'
	atomClass        // "[...]": a set of bytes, never '/'
	atomStar         // "*" (n stars in a row)
	atomSlash        // the separator, only while parsing
)

type atom struct {
	kind  uint8
	b     byte
	stars int
	set   *[256]bool
}

func (a *atom) matches(c byte) bool {
	switch a.kind {
	case atomByte:
		return a.b == c
	case atomAny:
		return c != '/'
	case atomClass:
		return a.set[c]
	}
	return false
}

// segment is the pattern of one path element; superStar is "**" standing
// for any number (zero or more) of whole elements.
type segment struct {
	atoms     []atom
	superStar bool
	// the chunks between the stars of atoms, when it has stars: head
	// and tail are fixed to the element's ends, middle found in order.
	// A chunk of plain bytes is searched with strings.Index.
	starred    bool
	head, tail []atom
	middle     [][]atom
	middleLit  []string // "" when the chunk is not plain bytes
	minLen     int
}

// prepare splits a segment's atoms at its stars.
func (sg *segment) prepare() {
	first := 0
	for first < len(sg.atoms) && sg.atoms[first].kind != atomStar {
		first++
	}
	if first == len(sg.atoms) {
		return
	}
	sg.starred = true
	last := len(sg.atoms) - 1
	for sg.atoms[last].kind != atomStar {
		last--
	}
	sg.head, sg.tail = sg.atoms[:first], sg.atoms[last+1:]
	sg.minLen = len(sg.head) + len(sg.tail)
	for i := first + 1; i < last; {
		if sg.atoms[i].kind == atomStar {
			i++
			continue
		}
		j := i
		for j < last && sg.atoms[j].kind != atomStar {
			j++
		}
		chunk := sg.atoms[i:j]
		lit := make([]byte, 0, len(chunk))
		for _, a := range chunk {
			if a.kind != atomByte {
				lit = nil
				break
			}
			lit = append(lit, a.b)
		}
		sg.middle = append(sg.middle, chunk)
		sg.middleLit = append(sg.middleLit, string(lit))
		sg.minLen += len(chunk)
		i = j
	}
}

// glob is a pattern over slash paths.
type glob struct {
	segs []segment
}

// compileGlob parses a gitignore pattern (without "!", leading and trailing
// slash). ok is false for a pattern git gives up on (an unterminated
// class, an unknown [:class:]): it matches nothing.
func compileGlob(p string) (g *glob, ok bool) {
	var atoms []atom
	for i := 0; i < len(p); {
		c := p[i]
		switch c {
		case '*':
			j := i
			for j < len(p) && p[j] == '*' {
				j++
			}
			atoms = append(atoms, atom{kind: atomStar, stars: j - i})
			i = j
		case '?':
			atoms = append(atoms, atom{kind: atomAny})
			i++
		case '[':
			set, n := parseClass(p[i:])
			if n == 0 {
				return nil, false
			}
			atoms = append(atoms, atom{kind: atomClass, set: set})
			i += n
		case '\\':
			switch {
			case i+1 < len(p) && p[i+1] == '/':
				atoms = append(atoms, atom{kind: atomSlash, b: 1}) // a separator all the same (b: escaped)
			case i+1 < len(p):
				atoms = append(atoms, atom{kind: atomByte, b: p[i+1]})
			}
			i += 2
		case '/':
			atoms = append(atoms, atom{kind: atomSlash})
			i++
		default:
			atoms = append(atoms, atom{kind: atomByte, b: c})
			i++
		}
	}
	// split at separators; an element that is only a run of two or more
	// stars is "**"
	g = &glob{}
	start := 0
	for i := 0; i <= len(atoms); i++ {
		if i < len(atoms) && atoms[i].kind != atomSlash {
			continue
		}
		seg := atoms[start:i]
		if len(seg) == 1 && seg[0].kind == atomStar && seg[0].stars >= 2 {
			if i < len(atoms) && atoms[i].b == 1 {
				// git: "**\/" is not "**/": the stars match across
				// separators but the escaped slash must be matched, so
				// one element at least
				g.segs = append(g.segs, segment{atoms: []atom{{kind: atomStar, stars: 1}}})
			}
			g.segs = append(g.segs, segment{superStar: true})
		} else {
			g.segs = append(g.segs, segment{atoms: seg})
		}
		start = i + 1
	}
	// "dir/**" matches everything inside dir, not dir itself: one element
	// at least, then any number
	if n := len(g.segs); n >= 2 && g.segs[n-1].superStar && !g.segs[n-2].superStar {
		g.segs = append(g.segs[:n-1], segment{atoms: []atom{{kind: atomStar, stars: 1}}}, segment{superStar: true})
	}
	for i := range g.segs {
		g.segs[i].prepare()
	}
	return g, true
}

// parseClass reads the class at the start of p ("[...]") as git's
// wildmatch does, returning its set (without '/') and its length in p, or
// 0 when the class is unterminated or names an unknown [:class:].
func parseClass(p string) (*[256]bool, int) {
	var set [256]bool
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(p) {
		c := p[i]
		if c == ']' && !first {
			if negate {
				for k := range set {
					set[k] = !set[k]
				}
			}
			set['/'] = false
			return &set, i + 1
		}
		first = false
		if c == '[' && i+1 < len(p) && p[i+1] == ':' {
			// as git: the class name runs to the first ']'; without a ':'
			// before it, the '[' is an ordinary member
			end := strings.IndexByte(p[i+2:], ']')
			if end < 0 {
				return nil, 0
			}
			if end >= 1 && p[i+2+end-1] == ':' {
				in, ok := posixClass(p[i+2 : i+2+end-1])
				if !ok {
					return nil, 0
				}
				for k := range set {
					if in(byte(k)) {
						set[k] = true
					}
				}
				i += 2 + end + 1
				continue
			}
			set['['] = true
			i++
			continue
		}
		lo, n := classByte(p[i:])
		if n == 0 {
			return nil, 0
		}
		i += n
		// as in git, the first byte of a range is a member by itself,
		// even when the range is empty ("]-[")
		set[lo] = true
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			h, m := classByte(p[i+1:])
			if m == 0 {
				return nil, 0
			}
			hi = h
			i += 1 + m
		}
		for k := int(lo); k <= int(hi); k++ {
			set[k] = true
		}
	}
	return nil, 0
}

// classByte reads one (possibly escaped) byte of a class.
func classByte(p string) (byte, int) {
	if p == "" {
		return 0, 0
	}
	if p[0] == '\\' {
		if len(p) < 2 {
			return 0, 0
		}
		return p[1], 2
	}
	return p[0], 1
}

// posixClass returns the members of a [:name:] class (ASCII, as in the C
// locale git uses).
func posixClass(name string) (func(byte) bool, bool) {
	isUpper := func(c byte) bool { return 'A' <= c && c <= 'Z' }
	isLower := func(c byte) bool { return 'a' <= c && c <= 'z' }
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	isAlpha := func(c byte) bool { return isUpper(c) || isLower(c) }
	isGraph := func(c byte) bool { return c > ' ' && c < 0x7f }
	switch name {
	case "alnum":
		return func(c byte) bool { return isAlpha(c) || isDigit(c) }, true
	case "alpha":
		return isAlpha, true
	case "blank":
		return func(c byte) bool { return c == ' ' || c == '\t' }, true
	case "cntrl":
		return func(c byte) bool { return c < ' ' || c == 0x7f }, true
	case "digit":
		return isDigit, true
	case "graph":
		return isGraph, true
	case "lower":
		return isLower, true
	case "print":
		return func(c byte) bool { return c >= ' ' && c < 0x7f }, true
	case "punct":
		return func(c byte) bool { return isGraph(c) && !isAlpha(c) && !isDigit(c) }, true
	case "space":
		return func(c byte) bool { return c == ' ' || ('\t' <= c && c <= '\r') }, true
	case "upper":
		return isUpper, true
	case "xdigit":
		return func(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }, true
	}
	return nil, false
}

// match reports whether the slash path p matches g.
func (g *glob) match(p string) bool {
	// element boundaries: element k is p[bounds[k]:bounds[k+1]-1]
	var buf [64]int
	bounds := append(buf[:0], 0)
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			bounds = append(bounds, i+1)
		}
	}
	bounds = append(bounds, len(p)+1)
	elem := func(k int) string { return p[bounds[k] : bounds[k+1]-1] }
	n := len(bounds) - 1

	// groups of element patterns between "**"
	segs := g.segs
	groupMatchAt := func(grp []segment, at int) bool {
		for k := range grp {
			if !grp[k].matchElement(elem(at + k)) {
				return false
			}
		}
		return true
	}
	first := 0
	for first < len(segs) && !segs[first].superStar {
		first++
	}
	if first == len(segs) {
		return len(segs) == n && groupMatchAt(segs, 0)
	}
	head := segs[:first]
	last := len(segs) - 1
	for !segs[last].superStar {
		last--
	}
	tail := segs[last+1:]
	if len(head)+len(tail) > n || !groupMatchAt(head, 0) || !groupMatchAt(tail, n-len(tail)) {
		return false
	}
	pos, end := len(head), n-len(tail)
	for i := first + 1; i < last; {
		if segs[i].superStar {
			i++
			continue
		}
		j := i
		for j < last && !segs[j].superStar {
			j++
		}
		grp := segs[i:j]
		found := false
		for ; pos+len(grp) <= end; pos++ {
			if groupMatchAt(grp, pos) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
		pos += len(grp)
		i = j
	}
	return true
}

// matchElement matches one path element (no separator) against the
// segment's atoms.
func (sg *segment) matchElement(s string) bool {
	if !sg.starred {
		return len(sg.atoms) == len(s) && chunkAt(sg.atoms, s, 0)
	}
	if sg.minLen > len(s) || !chunkAt(sg.head, s, 0) || !chunkAt(sg.tail, s, len(s)-len(sg.tail)) {
		return false
	}
	pos, end := len(sg.head), len(s)-len(sg.tail)
	for k, chunk := range sg.middle {
		if lit := sg.middleLit[k]; lit != "" {
			i := strings.Index(s[pos:end], lit)
			if i < 0 {
				return false
			}
			pos += i + len(lit)
			continue
		}
		found := false
		for ; pos+len(chunk) <= end; pos++ {
			if chunkAt(chunk, s, pos) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
		pos += len(chunk)
	}
	return true
}

// chunkAt reports whether the star-free atoms match s at pos.
func chunkAt(atoms []atom, s string, pos int) bool {
	for k := range atoms {
		if !atoms[k].matches(s[pos+k]) {
			return false
		}
	}
	return true
}
