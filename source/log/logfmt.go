package log

// scanLogfmt reads key=value pairs (values bare or double-quoted with
// backslash escapes) and fills the same fields as a JSON line. It returns
// the number of pairs read; a line with none is not logfmt.
func (sc *jsonScanner) scanLogfmt(line []byte, f *jsonFields) (pairs int) {
	*f = jsonFields{}
	sc.scratch = sc.scratch[:0]
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		ks := i
		for i < len(line) && line[i] > ' ' && line[i] != '=' && line[i] != '"' {
			i++
		}
		key := line[ks:i]
		if i >= len(line) || line[i] != '=' || len(key) == 0 {
			// a bare word: not a pair; skip it
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			continue
		}
		i++ // '='
		var v []byte
		if i < len(line) && line[i] == '"' {
			end, esc, err := scanString(line, i)
			if err != nil {
				// unterminated: take the rest
				v = line[i+1:]
				i = len(line)
			} else {
				v = line[i+1 : end]
				if esc {
					mark := len(sc.scratch)
					var ok bool
					sc.scratch, ok = appendUnescaped(sc.scratch, v)
					if ok {
						v = sc.scratch[mark:len(sc.scratch):len(sc.scratch)]
					}
				}
				i = end + 1
			}
		} else {
			vs := i
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			v = line[vs:i]
		}
		pairs++
		switch classifyKey(key) {
		case kTime:
			f.set(kTime, v, len(v) > 0 && isDigit(v[0]) && !isISO(v))
		case kLevel:
			f.set(kLevel, v, false)
		case kMsg:
			f.set(kMsg, v, false)
		case kLogger:
			f.set(kLogger, v, false)
		}
	}
	return pairs
}

func isISO(v []byte) bool { return len(v) >= 5 && v[4] == '-' }
