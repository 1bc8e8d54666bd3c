package trailreport

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/assess"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Request is what a front end (the command line, the MCP server) asks of
// a period report, before the trail's settings are applied.
type Request struct {
	Since, Until time.Time
	// Frameworks are catalog ids to assess (default: the trail's
	// compliance.frameworks, else every catalog).
	Frameworks []string
	// CatalogDir holds catalog files laid over the built-in ones
	// (default: the trail's compliance.catalogs).
	CatalogDir string
	// Trusted are signers' public keys (default: the trail's trusted/).
	Trusted  []string
	Now      time.Time
	Progress func(n uint64)
}

// Catalogs loads the catalogs a request selects: the built-in ones with
// the request's or the trail's directory laid over them. A catalog that
// does not load is an error with a hint; an unknown framework a usage
// error.
func Catalogs(tr *trail.Trail, req Request) ([]*compliance.Catalog, error) {
	st := tr.Settings().Compliance
	dir := req.CatalogDir
	if dir == "" && st.Catalogs != "" {
		dir = st.Catalogs
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(tr.Dir()), dir)
		}
	}
	cats, err := compliance.Load(dir)
	if err != nil {
		return nil, usererr.WithHint(err, "fix the catalog file, or see the built-in ones: ami-audit compliance --list")
	}
	ids := req.Frameworks
	if len(ids) == 0 {
		ids = st.Frameworks
	}
	sel, err := compliance.Select(cats, ids)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	return sel, nil
}

// Settings are the trail's settings of the checks of the trail itself.
func Settings(tr *trail.Trail) (assess.Settings, error) {
	var s assess.Settings
	if v := tr.Settings().Compliance.ClockTolerance; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("%s: compliance.clock_tolerance %q: want a duration such as 5m", filepath.Join(tr.Dir(), trail.ConfigFile), v)
		}
		s.ClockTolerance = d
	}
	return s, nil
}

// OptionsFor resolves a request against the trail's settings.
func OptionsFor(tr *trail.Trail, req Request) (Options, error) {
	cats, err := Catalogs(tr, req)
	if err != nil {
		return Options{}, err
	}
	settings, err := Settings(tr)
	if err != nil {
		return Options{}, err
	}
	return Options{Since: req.Since, Until: req.Until, Catalogs: cats, Trusted: req.Trusted, Settings: settings,
		Now: req.Now, Progress: req.Progress}, nil
}
