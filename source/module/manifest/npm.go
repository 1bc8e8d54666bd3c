package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PackageJSON is what a package.json declares.
type PackageJSON struct {
	Name         string
	Version      string
	Dependencies []Dependency
	// Workspaces lists npm/yarn workspace globs.
	Workspaces []string
}

type packageJSONDoc struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	Workspaces           json.RawMessage   `json:"workspaces"`
}

// jsonError turns an encoding/json error into a *ParseError with the line
// and column of its byte offset in data.
func jsonError(file string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// The offending byte is the last one read.
		line, col := position(data, max(se.Offset-1, 0))
		return &ParseError{File: file, Line: line, Col: col, Msg: clean(se.Error(), 300)}
	case errors.As(err, &te):
		line, col := position(data, te.Offset)
		msg := fmt.Sprintf("%s holds a JSON %s where %s was expected", te.Field, te.Value, te.Type)
		if te.Field == "" {
			msg = fmt.Sprintf("a JSON %s where %s was expected", te.Value, te.Type)
		}
		return &ParseError{File: file, Line: line, Col: col, Msg: clean(msg, 300)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := position(data, int64(len(data)))
		return &ParseError{File: file, Line: line, Col: col, Msg: "unexpected end of JSON input"}
	}
	return &ParseError{File: file, Msg: clean(err.Error(), 300)}
}

// ParsePackageJSON reads a package.json: dependencies, devDependencies
// (group dev), peerDependencies (peer) and optionalDependencies (optional).
func ParsePackageJSON(file string, data []byte) (*PackageJSON, error) {
	var doc packageJSONDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, jsonError(file, data, err)
	}
	p := &PackageJSON{Name: clean(doc.Name, 200), Version: clean(doc.Version, 100)}
	for _, g := range []struct {
		key, group string
		m          map[string]string
	}{
		{"dependencies", "main", doc.Dependencies},
		{"devDependencies", "dev", doc.DevDependencies},
		{"peerDependencies", "peer", doc.PeerDependencies},
		{"optionalDependencies", "optional", doc.OptionalDependencies},
	} {
		from := lineOffset(data, `"`+g.key+`"`)
		for _, name := range sortedKeys(g.m) {
			p.Dependencies = append(p.Dependencies, Dependency{
				Name: clean(name, 200), Ecosystem: NPM, Group: g.group, Spec: clean(g.m[name], 300),
				File: file, Line: lineOf(data, `"`+name+`"`, from),
			})
		}
	}
	// workspaces is either a list of globs or {packages: [...]}.
	if len(doc.Workspaces) > 0 {
		var list []string
		if json.Unmarshal(doc.Workspaces, &list) != nil {
			var obj struct {
				Packages []string `json:"packages"`
			}
			if json.Unmarshal(doc.Workspaces, &obj) == nil {
				list = obj.Packages
			}
		}
		for _, w := range list {
			p.Workspaces = append(p.Workspaces, clean(w, 300))
		}
	}
	return p, nil
}

func lineOffset(data []byte, needle string) int {
	i := strings.Index(string(data), needle)
	if i < 0 {
		return 0
	}
	return i
}

// ParsePackageLock reads a package-lock.json (lockfile versions 1, 2 and
// 3) as a stream: the whole file is never held in memory. Versions holds
// the hoisted installs (node_modules/<name>, and v1's top-level
// dependencies), which are the resolved versions of the direct
// dependencies; Packages counts every installed package. On a syntax error
// r is read again from the start to find the line.
func ParsePackageLock(file string, r io.ReadSeeker) (*Lock, error) {
	dec := json.NewDecoder(io.LimitReader(r, MaxFileBytes))
	l := &Lock{Versions: map[string]string{}}
	err := parsePackageLock(dec, l)
	if err == nil {
		return l, nil
	}
	off := dec.InputOffset()
	var se *json.SyntaxError
	var ae *atError
	switch {
	case errors.As(err, &ae):
		off = ae.off
	case errors.As(err, &se):
		off = max(se.Offset-1, 0)
	}
	line, col := 0, 0
	if _, serr := r.Seek(0, io.SeekStart); serr == nil {
		line, col = streamPosition(r, off)
	}
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "unexpected end of JSON input"
	}
	return nil, &ParseError{File: file, Line: line, Col: col, Msg: clean(msg, 300)}
}

func parsePackageLock(dec *json.Decoder, l *Lock) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "packages":
			err = eachEntry(dec, func(path string) error {
				var e struct {
					Version string `json:"version"`
				}
				if err := decodeAt(dec, &e); err != nil {
					return err
				}
				if path == "" {
					return nil // the root project itself
				}
				l.Packages++
				if name, ok := strings.CutPrefix(path, "node_modules/"); ok && !strings.Contains(name, "/node_modules/") {
					l.add(clean(name, 200), clean(e.Version, 100))
				}
				return nil
			})
		case "dependencies":
			// Lockfile v1: a tree of {version, dependencies}. Only the top
			// level is hoisted; nested ones are counted.
			err = eachEntry(dec, func(name string) error {
				n, err := countV1(dec, l, name, 0)
				l.Packages += n
				return err
			})
		default:
			err = skipValue(dec, 0)
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// countV1 reads one v1 dependency entry, records the top-level version and
// returns how many packages it holds (itself and nested ones).
func countV1(dec *json.Decoder, l *Lock, name string, depth int) (int, error) {
	if depth > 256 {
		return 0, errors.New("dependencies nested too deeply")
	}
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	n := 1
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return n, err
		}
		switch key {
		case "version":
			var v string
			if err := decodeAt(dec, &v); err != nil {
				return n, err
			}
			if depth == 0 {
				l.add(clean(name, 200), clean(v, 100))
			}
		case "dependencies":
			err = eachEntry(dec, func(child string) error {
				c, err := countV1(dec, l, child, depth+1)
				n += c
				return err
			})
			if err != nil {
				return n, err
			}
		default:
			if err := skipValue(dec, 0); err != nil {
				return n, err
			}
		}
	}
	_, err := dec.Token()
	return n, err
}

// atError is a decoding error at a byte offset of the whole stream.
type atError struct {
	off int64
	err error
}

func (e *atError) Error() string { return e.err.Error() }
func (e *atError) Unwrap() error { return e.err }

// decodeAt decodes one value, giving type errors their offset in the
// stream (Decode reports them relative to the value).
func decodeAt(dec *json.Decoder, v any) error {
	start := dec.InputOffset()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		msg := fmt.Sprintf("%s holds a JSON %s where %s was expected", te.Field, te.Value, te.Type)
		if te.Field == "" {
			msg = fmt.Sprintf("a JSON %s where %s was expected", te.Value, te.Type)
		}
		return &atError{off: start + te.Offset, err: errors.New(msg)}
	}
	return err
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("expected %q, found %v", d, describeToken(t))
	}
	return nil
}

func describeToken(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("string %q", clean(v, 40))
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", t)
}

func objectKey(dec *json.Decoder) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("expected an object key, found %v", describeToken(t))
	}
	return k, nil
}

// eachEntry reads an object, calling fn for each key with the decoder
// positioned at its value; fn must consume the value.
func eachEntry(dec *json.Decoder, fn func(key string) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		k, err := objectKey(dec)
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// skipValue consumes one JSON value without keeping it.
func skipValue(dec *json.Decoder, depth int) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	if d != '{' && d != '[' {
		return fmt.Errorf("unexpected %q", string(d))
	}
	level := 1
	for level > 0 {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			switch d {
			case '{', '[':
				level++
			default:
				level--
			}
		}
	}
	return nil
}

// streamPosition counts lines in r up to byte offset off.
func streamPosition(r io.Reader, off int64) (line, col int) {
	line, col = 1, 1
	buf := make([]byte, 64<<10)
	var done int64
	for done < off {
		n, err := r.Read(buf[:min(int64(len(buf)), off-done)])
		for _, c := range buf[:n] {
			if c == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
		done += int64(n)
		if err != nil {
			break
		}
	}
	return line, col
}
