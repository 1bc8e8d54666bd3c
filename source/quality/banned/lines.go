package banned

import "unicode/utf8"

// lineIndex lists where each line of a file starts and ends, with the line
// breaks of Python's str.splitlines after universal-newline decoding: \n,
// \r\n, \r, \v, \f, \x1c, \x1d, \x1e, U+0085, U+2028 and U+2029. There is
// no empty line after a final break.
type lineIndex struct {
	starts, ends []int
}

func indexLines(b []byte) *lineIndex {
	x := &lineIndex{}
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		n := 0 // length of the break at i, 0 when none
		switch {
		case c == '\n', c == '\v', c == '\f', c == 0x1c, c == 0x1d, c == 0x1e:
			n = 1
		case c == '\r':
			n = 1
			if i+1 < len(b) && b[i+1] == '\n' {
				n = 2
			}
		case c == 0xc2 && i+1 < len(b) && b[i+1] == 0x85:
			n = 2
		case c == 0xe2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xa8 || b[i+2] == 0xa9):
			n = 3
		}
		if n == 0 {
			if c < utf8.RuneSelf {
				i++
			} else {
				_, sz := utf8.DecodeRune(b[i:])
				i += sz
			}
			continue
		}
		x.starts = append(x.starts, start)
		x.ends = append(x.ends, i)
		i += n
		start = i
	}
	if start < len(b) {
		x.starts = append(x.starts, start)
		x.ends = append(x.ends, len(b))
	}
	return x
}

// lineOf returns the 0-based line holding byte offset off (the line whose
// text or break contains it).
func (x *lineIndex) lineOf(off int) int {
	lo, hi := 0, len(x.starts)
	for lo < hi {
		m := (lo + hi) / 2
		if x.starts[m] <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}
