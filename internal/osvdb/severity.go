package osvdb

import (
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Rated is a record's severity for one package.
type Rated struct {
	// Severity is the trail's grade: CVSS 9.0 and above critical, 7.0
	// error, 4.0 warning, below that info; without a score, the
	// advisory's own label (CRITICAL, HIGH, MODERATE, LOW); without
	// either, warning (Source "none").
	Severity audit.Severity
	// Score is the CVSS base score, 0 when there is none.
	Score float64
	// Vector is the CVSS vector the score comes from.
	Vector string
	// Source says where the grade comes from: the CVSS type
	// ("CVSS_V3"), "database_specific" or "none".
	Source string
}

// Rate grades e for the package: the highest CVSS base score among the
// package's and the record's severities, else the record's label.
func (e *Entry) Rate(ecosystem, name string) Rated {
	var sevs []Severity
	for _, a := range e.Affected {
		if a.Is(ecosystem, name) {
			sevs = append(sevs, a.Severity...)
		}
	}
	sevs = append(sevs, e.Severity...)
	best := Rated{Source: "none"}
	for _, s := range sevs {
		score, ok := cvssScore(s.Type, s.Score)
		if ok && score > best.Score {
			best = Rated{Score: score, Vector: s.Score, Source: s.Type}
		}
	}
	if best.Source != "none" {
		best.Severity = FromScore(best.Score)
		return best
	}
	if label, _ := e.DatabaseSpecific["severity"].(string); label != "" {
		if sev, err := audit.ParseSeverity(label); err == nil {
			return Rated{Severity: sev, Source: "database_specific"}
		}
	}
	best.Severity = audit.SeverityWarning
	return best
}

// FromScore grades a CVSS base score.
func FromScore(score float64) audit.Severity {
	switch {
	case score >= 9.0:
		return audit.SeverityCritical
	case score >= 7.0:
		return audit.SeverityError
	case score >= 4.0:
		return audit.SeverityWarning
	}
	return audit.SeverityInfo
}

// cvssScore computes the base score of a CVSS vector with
// github.com/pandatix/go-cvss.
func cvssScore(typ, vector string) (float64, bool) {
	switch {
	case typ == "CVSS_V4" || strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.Score(), true
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	case typ == "CVSS_V2":
		c, err := gocvss20.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	}
	return 0, false
}
