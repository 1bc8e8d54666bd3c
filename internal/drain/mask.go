package drain

// Tokenize appends to dst the tokens of msg, split on white space, with
// parameters masked (see Mask), and returns the extended slice. At most
// max tokens are produced (max <= 0: no limit); a message with more ends in
// one Ellipsis token. Tokens are substrings of msg, so dst must not outlive
// msg unless copied.
func Tokenize(dst []string, msg string, max int) []string {
	n := 0
	i := 0
	for i < len(msg) {
		for i < len(msg) && isSpace(msg[i]) {
			i++
		}
		if i >= len(msg) {
			break
		}
		j := i
		for j < len(msg) && !isSpace(msg[j]) {
			j++
		}
		if max > 0 && n == max-1 {
			// is there another token after this one?
			k := j
			for k < len(msg) && isSpace(msg[k]) {
				k++
			}
			if k < len(msg) {
				return append(dst, Ellipsis)
			}
		}
		dst = append(dst, Mask(msg[i:j]))
		n++
		i = j
	}
	return dst
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// Mask returns Wildcard when tok is a parameter, "key=<*>" when tok is a
// key=value pair whose value is one, and tok otherwise. After surrounding
// brackets, quotes and punctuation are set aside, a token is a parameter
// when it holds a decimal digit (numbers, durations such as 30s or 1.5ms,
// sizes, IP addresses, UUIDs, dates, versions, numbered host names), is a
// hex string of at least 8 characters, an absolute or relative path
// ("/var/log", "./x", "~/x"), a URL ("scheme://…") or an e-mail address.
func Mask(tok string) string {
	for i := 1; i < len(tok)-1; i++ {
		if tok[i] == '=' {
			if isKey(tok[:i]) {
				if isParam(tok[i+1:]) {
					return tok[:i+1] + Wildcard
				}
				return tok
			}
			break
		}
	}
	if isParam(tok) {
		return Wildcard
	}
	return tok
}

func isKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return s != ""
}

func isParam(tok string) bool {
	core := trimPunct(tok)
	if core == "" {
		return false
	}
	if hasDigit(core) {
		return true
	}
	switch {
	case core[0] == '/' && len(core) > 1,
		len(core) > 2 && core[0] == '~' && core[1] == '/',
		len(core) > 2 && core[0] == '.' && core[1] == '/',
		len(core) > 3 && core[0] == '.' && core[1] == '.' && core[2] == '/':
		return true
	}
	if len(core) >= 8 && isHex(core) {
		return true
	}
	at, dot, scheme := -1, false, false
	for i := 0; i < len(core); i++ {
		switch core[i] {
		case '@':
			if at < 0 {
				at = i
			}
		case '.':
			if at > 0 {
				dot = true
			}
		case ':':
			if i+2 < len(core) && core[i+1] == '/' && core[i+2] == '/' && i > 0 {
				scheme = true
			}
		}
	}
	return scheme || (at > 0 && dot)
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// trimPunct removes leading brackets and quotes and trailing brackets,
// quotes and sentence punctuation.
func trimPunct(s string) string {
	for len(s) > 0 {
		switch s[0] {
		case '(', '[', '{', '<', '"', '\'', '`':
			s = s[1:]
			continue
		}
		break
	}
	for len(s) > 0 {
		switch s[len(s)-1] {
		case ')', ']', '}', '>', '"', '\'', '`', ',', ';', ':', '.', '!', '?':
			s = s[:len(s)-1]
			continue
		}
		break
	}
	return s
}
