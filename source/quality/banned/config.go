// Package banned checks a tree against AMI's banned words and banned file
// names, as AMI's patterns folder defines them
// (scripts/config/patterns/banned_words.yaml and its siblings).
//
// # The configuration
//
// banned_words.yaml (version 2) has
//
//	global_banned_words             entries checked in every scanned file
//	directory_specific_banned_words {dir: [entries]}: checked in files with
//	                                that directory in their path (a path
//	                                component, or a slash-separated run of
//	                                components, at any depth)
//	banned_filename_patterns        checked against every scanned file name
//	ignored_files                   paths (relative to the repository root)
//	                                never scanned
//
// and the sibling scanner.yaml adds ignored_dirs (directory names at any
// depth), ignored_suffixes (file names ending so) and ignored_names (exact
// file names). code_check.yaml (exempt_files) and exemptions.yaml
// (pattern_check_exemptions) are read too; they exempt files from the
// suppression check (see Config.SuppressionExempt), not from banned words.
//
// # Semantics (what counts as one violation)
//
// The semantics are those of AMI's published banned-words checker
// (scripts/check_banned_words.py, the script the YAML configuration
// replaced), extended to the YAML's fields:
//
//   - An entry is a regular expression in Python's syntax, matched
//     case-insensitively; an entry that is not a valid regular expression
//     ("uuid.uuid1(") is matched as literal text, case-insensitively.
//   - One violation per entry and line: a line holding an entry three times
//     is one violation of that entry; a line holding two entries is two.
//     Identical entries listed twice count once.
//   - Lines are those of Python's str.splitlines after universal-newline
//     decoding (\n, \r\n, \r, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029
//     end a line). Files that are not valid UTF-8 are not scanned for words
//     (their names still are).
//   - A file under an ignored directory, with an ignored suffix or name, or
//     listed in ignored_files is not scanned, except that a directory that
//     is both ignored and has its own directory-specific entries ("tests"
//     in AMI's configuration) is scanned for those entries only: scanner.yaml
//     keeps test files out of the global words, and the test-only words are
//     what the directory-specific list is for.
//   - File names: the first banned filename pattern that matches, one
//     violation per file. Names holding a timestamp (8 or more digits, "_",
//     digits) never match. A pattern starting with "_" or "." matches when
//     the name's stem (Python's PurePath.stem) ends with the pattern without
//     its leading dots, or the name ends with the pattern; any other pattern
//     matches anywhere in the lower-cased name.
//
// # Regular expressions
//
// Go's RE2 (package regexp) runs every pattern it accepts, in linear time.
// Patterns it refuses (look-behind, look-ahead, back-references) run on
// github.com/dlclark/regexp2, a backtracking engine, with a match time
// limit. No pattern is dropped: an entry neither engine accepts is matched
// as literal text, as AMI's checker does with entries Python's re refuses,
// and Compile says so for each such entry (Pattern.Why), so a report can
// list them.
//
// # Speed
//
// Each pattern has a required literal (the entry itself for literal
// entries, the longest run of plain characters that every match must
// contain for a regular expression). A file's content is searched for the
// literals with bytes.Index on an ASCII-lower-cased copy; only lines that
// hold a pattern's literal are matched against the pattern. Files are
// scanned by several goroutines and reported in walk order.
package banned

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Dir is where AMI keeps the pattern files, relative to the repository
// root.
const Dir = "scripts/config/patterns"

// File names in Dir.
const (
	WordsFile      = "banned_words.yaml"
	ScannerFile    = "scanner.yaml"
	CodeCheckFile  = "code_check.yaml"
	ExemptionsFile = "exemptions.yaml"
)

// ErrNoConfig is returned by Find when a tree has no banned_words.yaml.
var ErrNoConfig = errors.New("no banned_words.yaml")

// Config is AMI's banned-words configuration, as read from the pattern
// files.
type Config struct {
	// Global are the global_banned_words entries, in file order.
	Global []string
	// Directories maps a directory ("tests", "base/tests") to its entries.
	Directories map[string][]string
	// Filenames are the banned_filename_patterns, in file order.
	Filenames []string
	// IgnoredFiles are repository-relative paths never scanned.
	IgnoredFiles []string
	// IgnoredDirs, IgnoredSuffixes, IgnoredNames come from scanner.yaml.
	IgnoredDirs, IgnoredSuffixes, IgnoredNames []string
	// ExemptFiles (code_check.yaml) and PatternExemptions
	// (exemptions.yaml) exempt files from the suppression check.
	ExemptFiles, PatternExemptions []string
	// Sources lists the files the configuration was read from.
	Sources []string
}

type wordsYAML struct {
	Version     any                 `yaml:"version"`
	Global      []string            `yaml:"global_banned_words"`
	Directories map[string][]string `yaml:"directory_specific_banned_words"`
	Filenames   []string            `yaml:"banned_filename_patterns"`
	Ignored     []string            `yaml:"ignored_files"`
}

type scannerYAML struct {
	Dirs     []string `yaml:"ignored_dirs"`
	Suffixes []string `yaml:"ignored_suffixes"`
	Names    []string `yaml:"ignored_names"`
}

type codeCheckYAML struct {
	Exempt []string `yaml:"exempt_files"`
}

type exemptionsYAML struct {
	Exempt []string `yaml:"pattern_check_exemptions"`
}

// Find returns the banned_words.yaml of the repository at root, or
// ErrNoConfig.
func Find(root string) (string, error) {
	p := filepath.Join(root, filepath.FromSlash(Dir), WordsFile)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p, nil
	}
	return "", fmt.Errorf("%w under %s (looked for %s/%s)", ErrNoConfig, root, Dir, WordsFile)
}

// Load reads banned_words.yaml at path and its siblings (each optional).
// An unreadable or malformed file is an error naming it.
func Load(wordsPath string) (*Config, error) {
	c := &Config{Directories: map[string][]string{}}
	var w wordsYAML
	if err := readYAML(wordsPath, &w, true); err != nil {
		return nil, err
	}
	c.Sources = append(c.Sources, wordsPath)
	c.Global = dedupe(w.Global)
	for d, words := range w.Directories {
		d = strings.Trim(path.Clean(strings.ReplaceAll(d, `\`, "/")), "/")
		if d == "" || d == "." {
			return nil, fmt.Errorf("%s: directory_specific_banned_words: empty directory name", wordsPath)
		}
		c.Directories[d] = dedupe(append(c.Directories[d], words...))
	}
	c.Filenames = dedupe(w.Filenames)
	c.IgnoredFiles = w.Ignored
	dir := filepath.Dir(wordsPath)
	var s scannerYAML
	if ok, err := readOptional(filepath.Join(dir, ScannerFile), &s); err != nil {
		return nil, err
	} else if ok {
		c.Sources = append(c.Sources, filepath.Join(dir, ScannerFile))
		c.IgnoredDirs, c.IgnoredSuffixes, c.IgnoredNames = s.Dirs, s.Suffixes, s.Names
	}
	var cc codeCheckYAML
	if ok, err := readOptional(filepath.Join(dir, CodeCheckFile), &cc); err != nil {
		return nil, err
	} else if ok {
		c.Sources = append(c.Sources, filepath.Join(dir, CodeCheckFile))
		c.ExemptFiles = cc.Exempt
	}
	var ex exemptionsYAML
	if ok, err := readOptional(filepath.Join(dir, ExemptionsFile), &ex); err != nil {
		return nil, err
	} else if ok {
		c.Sources = append(c.Sources, filepath.Join(dir, ExemptionsFile))
		c.PatternExemptions = ex.Exempt
	}
	return c, nil
}

func readOptional(p string, v any) (bool, error) {
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return true, readYAML(p, v, false)
}

func readYAML(p string, v any, required bool) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("banned words configuration: %w", err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w (fix the YAML; every entry must be a string)", p, err)
	}
	return nil
}

func dedupe(v []string) []string {
	out := make([]string, 0, len(v))
	for _, s := range v {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// SuppressionExempt reports whether the repository-relative path rel is
// exempt from the suppression check: listed in code_check.yaml's
// exempt_files, or matched by an exemptions.yaml entry (an entry starting
// with "." and holding no "/" matches names ending with it; any other entry
// matches paths containing it).
func (c *Config) SuppressionExempt(rel string) bool {
	if c == nil {
		return false
	}
	if slices.Contains(c.ExemptFiles, rel) {
		return true
	}
	for _, e := range c.PatternExemptions {
		if e == "" {
			continue
		}
		if strings.HasPrefix(e, ".") && !strings.Contains(e, "/") {
			if strings.HasSuffix(rel, e) {
				return true
			}
			continue
		}
		if strings.Contains(rel, e) || strings.Contains("/"+rel, e) {
			return true
		}
	}
	return false
}
