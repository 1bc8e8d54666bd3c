package quality

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Where ami-agent --audit writes its reports and cache, relative to the
// repository root (older cache location first).
var (
	ReviewReportDir = "docs/audit"
	ReviewCacheDirs = []string{".cache/audit", "logs/audit-cache"}
)

var (
	reviewLineRE  = regexp.MustCompile(`^\s*[-*]\s*Line\s+(\d+)\s*:\s*(.*?)\s*\(severity:\s*([A-Za-z]+)\)\s*$`)
	reviewFieldRE = regexp.MustCompile(`^\s*\*\*([A-Za-z ]+)\*\*\s*:\s*(.*?)\s*$`)
)

// Review is one ami-agent review of one file.
type Review struct {
	File       string // as the report names it, relative to the root
	Status     string // PASS, FAIL, ERROR
	Date       time.Time
	Source     string // the report or cache file, relative to the root
	Violations []Violation
}

// parseReviewMarkdown reads one per-file report of ami-agent --audit.
func parseReviewMarkdown(b []byte) (*Review, error) {
	r := &Review{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if m := reviewFieldRE.FindStringSubmatch(line); m != nil {
			v := strings.Trim(m[2], "`")
			switch strings.ToLower(m[1]) {
			case "file":
				r.File = v
			case "status":
				r.Status = strings.ToUpper(v)
			case "audit date":
				for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02", "02.01.2006"} {
					if t, err := time.Parse(layout, v); err == nil {
						r.Date = t
						break
					}
				}
			}
			continue
		}
		if m := reviewLineRE.FindStringSubmatch(line); m != nil {
			ln, _ := strconv.Atoi(m[1])
			r.Violations = append(r.Violations, Violation{Tool: ToolAMIAgent, Rule: ToolAMIAgent + ":review",
				Severity: levelSeverity(m[3]), Message: m[2], Line: ln,
				Extra: map[string]any{"review_severity": strings.ToUpper(m[3])}})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if r.File == "" {
		return nil, fmt.Errorf("no **File** line")
	}
	return r, nil
}

// parseReviewCache reads one JSON cache entry of ami-agent --audit.
func parseReviewCache(b []byte) (*Review, error) {
	var c struct {
		FilePath   string `json:"file_path"`
		Status     string `json:"status"`
		Violations []struct {
			Line      int    `json:"line"`
			PatternID string `json:"pattern_id"`
			Severity  string `json:"severity"`
			Message   string `json:"message"`
		} `json:"violations"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if c.FilePath == "" {
		return nil, fmt.Errorf("no file_path")
	}
	r := &Review{File: c.FilePath, Status: strings.ToUpper(c.Status)}
	for _, v := range c.Violations {
		id := v.PatternID
		if id == "" {
			id = "review"
		}
		r.Violations = append(r.Violations, Violation{Tool: ToolAMIAgent, Rule: ToolAMIAgent + ":" + id,
			Severity: levelSeverity(v.Severity), Message: v.Message, Line: max(v.Line, 0),
			Extra: map[string]any{"review_severity": strings.ToUpper(v.Severity)}})
	}
	return r, nil
}

// ReadReviews finds ami-agent's reports and cache under root and returns,
// for each reviewed file, its newest review: Markdown reports by their
// date folder (DD.MM.YYYY), cache entries by their modification time; for
// a file with both, the newer. Files that cannot be parsed are returned as
// problems (path: reason), not as errors.
func ReadReviews(root string) (reviews []*Review, problems []string) {
	newest := map[string]*Review{}
	keep := func(r *Review) {
		r.File = relPath(root, root, r.File)
		for i := range r.Violations {
			r.Violations[i].File = r.File
			r.Violations[i].Extra["review_source"] = r.Source
		}
		if old, ok := newest[r.File]; !ok || r.Date.After(old.Date) {
			newest[r.File] = r
		}
	}
	walk := func(dir string, ext string, parse func([]byte) (*Review, error), date func(p string, fi fs.FileInfo) time.Time) {
		base := filepath.Join(root, filepath.FromSlash(dir))
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ext) || d.Name() == "CONSOLIDATED.md" {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			b, err := os.ReadFile(p)
			if err != nil {
				problems = append(problems, rel+": "+err.Error())
				return nil
			}
			r, err := parse(b)
			if err != nil {
				problems = append(problems, rel+": "+err.Error())
				return nil
			}
			fi, _ := d.Info()
			if r.Date.IsZero() {
				r.Date = date(p, fi)
			}
			r.Source = rel
			keep(r)
			return nil
		})
	}
	walk(ReviewReportDir, ".md", parseReviewMarkdown, func(p string, fi fs.FileInfo) time.Time {
		rel, _ := filepath.Rel(filepath.Join(root, ReviewReportDir), p)
		if t, err := time.Parse("02.01.2006", strings.Split(filepath.ToSlash(rel), "/")[0]); err == nil {
			return t
		}
		return fi.ModTime()
	})
	for _, dir := range ReviewCacheDirs {
		walk(dir, ".json", parseReviewCache, func(_ string, fi fs.FileInfo) time.Time { return fi.ModTime() })
	}
	for _, r := range newest {
		reviews = append(reviews, r)
	}
	slicesSortReviews(reviews)
	return reviews, problems
}

func slicesSortReviews(rs []*Review) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].File < rs[j-1].File; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}
