package file

import (
	"cmp"
	"path"
	"slices"
	"strings"
)

// Tally sums up what Observe hears, for a report. Its memory is bounded
// whatever the number of files: the per-file rows, the warnings and the
// extensions kept are capped.
type Tally struct {
	// MaxRows caps Rows; 0 means 1000.
	MaxRows int
	// MaxWarnings caps Warnings; 0 means 1000.
	MaxWarnings int

	Files     int64 // paths examined (not counting skipped ones)
	Bytes     int64 // their total size
	New       int64
	Changed   int64
	Unchanged int64
	Removed   int64 // paths recorded before that no longer exist
	Skipped   int64 // paths that could not be hashed
	// Excluded counts paths never read (git internals, the trail's
	// directory); Ignored untracked paths ignore rules exclude. A
	// directory counts once.
	Excluded, Ignored int64
	// Passed are the first MaxRows excluded or ignored paths, with their
	// reasons; PassedDropped counts the rest.
	Passed        []Entry
	PassedDropped int64
	Recorded      int64 // records emitted
	// WarningCount counts every warning; Warnings keeps the first
	// MaxWarnings of them, each prefixed with its path.
	WarningCount int64
	Warnings     []string
	// Rows are the first MaxRows paths examined, in walk order.
	Rows []Entry
	// RowsDropped counts paths beyond MaxRows.
	RowsDropped int64

	ext map[string]*ExtStat
}

// ExtStat is the files of one extension.
type ExtStat struct {
	Ext   string // ".go", "(none)", or "(other)" for extensions beyond the cap
	Files int64
	Bytes int64
}

// maxExtensions caps the distinct extensions kept; the rest are summed as
// "(other)".
const maxExtensions = 1000

// Observe adds one entry; use it as Config.Observe.
func (t *Tally) Observe(e Entry) {
	if e.Record != nil {
		t.Recorded++
	}
	for _, w := range e.Warnings {
		t.WarningCount++
		if len(t.Warnings) < cmp.Or(t.MaxWarnings, 1000) {
			t.Warnings = append(t.Warnings, e.Path+": "+w)
		}
	}
	switch e.Change {
	case ChangeNotice:
		return
	case ChangeRemoved:
		t.Removed++
		return
	case ChangeExcluded, ChangeIgnored:
		if e.Change == ChangeExcluded {
			t.Excluded++
		} else {
			t.Ignored++
		}
		if len(t.Passed) < cmp.Or(t.MaxRows, 1000) {
			t.Passed = append(t.Passed, e)
		} else {
			t.PassedDropped++
		}
		return
	case ChangeSkipped:
		t.Skipped++
	case ChangeNew:
		t.New++
	case ChangeChanged:
		t.Changed++
	case ChangeUnchanged:
		t.Unchanged++
	}
	if e.Change != ChangeSkipped {
		t.Files++
		t.Bytes += e.Size
		t.addExt(e)
	}
	if len(t.Rows) < cmp.Or(t.MaxRows, 1000) {
		e.Record = nil // keep the row, not the record
		t.Rows = append(t.Rows, e)
	} else {
		t.RowsDropped++
	}
}

func (t *Tally) addExt(e Entry) {
	ext := strings.ToLower(path.Ext(path.Base(e.Path)))
	if ext == "" || ext == path.Base(e.Path) {
		ext = "(none)"
	}
	if t.ext == nil {
		t.ext = map[string]*ExtStat{}
	}
	s, ok := t.ext[ext]
	if !ok {
		if len(t.ext) >= maxExtensions {
			ext = "(other)"
			s = t.ext[ext]
		}
		if s == nil {
			s = &ExtStat{Ext: ext}
			t.ext[ext] = s
		}
	}
	s.Files++
	s.Bytes += e.Size
}

// Extensions returns the extensions seen, most files first (ties by name).
func (t *Tally) Extensions() []ExtStat {
	out := make([]ExtStat, 0, len(t.ext))
	for _, s := range t.ext {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b ExtStat) int {
		if c := cmp.Compare(b.Files, a.Files); c != 0 {
			return c
		}
		return strings.Compare(a.Ext, b.Ext)
	})
	return out
}
