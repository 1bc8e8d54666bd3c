// Package state is the audited state of a repository as its trail
// recorded it at a point in time — its files (content hash, mode, size),
// its modules' dependencies and its services — and the differences
// between two such states: what drift is made of. Baselines (package
// baseline) are saved states; the drift analyzer and the diff command
// compare them.
//
// # The state at a time
//
// The state at a time T is read from the records only, never by
// collecting again: for each path, the newest file_hash or file_removed
// record of the file source dated T or earlier (a removed path is not in
// the state; a file the source could not read keeps its last hash); for
// each module, the newest module_audit record of the module source dated
// T or earlier, with the dependencies it lists (a module audited without
// dependencies has none in the state); for each service, the newest
// service_state record of the service source dated T or earlier, unless
// its state is "removed". Those sources date their records with the time
// of the run, so this is what a run up to T had seen.
//
// Reading is one pass per kind of record over the records of those
// actions, and memory grows with the number of paths, dependencies and
// services, not with the records: a store that implements NewestReader
// (the SQLite store) finds the newest record of each target itself.
package state

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/source/file"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/module/manifest"
	"github.com/ami-orchestrator/ami-audit/source/service"
)

// State is the audited state at a point.
type State struct {
	// At is the point in time; zero for the whole trail.
	At time.Time `json:"at,omitzero"`
	// Files by repository-relative path.
	Files map[string]File `json:"files"`
	// Dependencies by DependencyKey.
	Dependencies map[string]Dependency `json:"dependencies"`
	// Services by name.
	Services map[string]Service `json:"services"`
}

// File is a file's recorded facts.
type File struct {
	SHA256 string `json:"sha256"`
	Mode   string `json:"mode"`
	Size   int64  `json:"size"`
	// Type is "file" or "symlink".
	Type string `json:"type,omitempty"`
}

// Dependency is one dependency of a module.
type Dependency struct {
	Module    string `json:"module"`
	Ecosystem string `json:"ecosystem"`
	Group     string `json:"group"`
	Name      string `json:"name"`
	// Version is the resolved version (a lock file, an exact pin); Spec
	// the constraint as written.
	Version string `json:"version,omitempty"`
	Spec    string `json:"spec,omitempty"`
	File    string `json:"file,omitempty"`
}

// Key identifies a dependency across states: module, ecosystem, group and
// name.
func (d Dependency) Key() string {
	return d.Module + "|" + d.Ecosystem + "|" + d.Group + "|" + d.Name
}

// Service is a service's recorded state.
type Service struct {
	State string `json:"state"`
	Kind  string `json:"kind,omitempty"`
}

// New returns an empty state.
func New(at time.Time) *State {
	return &State{At: at, Files: map[string]File{}, Dependencies: map[string]Dependency{}, Services: map[string]Service{}}
}

// NewestReader is an optional capability of a store: for each target of
// the records whose action is one of actions, the newest of them dated at
// or before each time of at (in the order given; nil where there is none),
// without reading every record into memory. Targets come in any order.
// With members, a record may hold only its sequence, action, target,
// timestamp, source and those context members.
type NewestReader interface {
	NewestByTarget(ctx context.Context, actions []string, at []time.Time, members []string) iter.Seq2[[]*audit.Record, error]
}

// kinds are the records a state is made of: the actions read together
// (a target's newest record among them wins) and how a record adds to a
// state.
var kinds = []struct {
	source  string
	actions []string
	members []string // the context members apply reads
	apply   func(s *State, r *audit.Record) error
}{
	{file.SourceName, []string{file.ActionHash, file.ActionRemoved}, []string{"sha256", "mode", "size", "file_type"}, applyFile},
	{module.SourceName, []string{module.ActionAudit}, []string{"dependencies"}, applyModule},
	{service.SourceName, []string{service.ActionState}, []string{"state", "kind"}, applyService},
}

// At reads the state the trail recorded at t (zero: everything).
func At(ctx context.Context, tr audit.Reader, t time.Time) (*State, error) {
	states, err := AtEach(ctx, tr, []time.Time{t})
	if err != nil {
		return nil, err
	}
	return states[0], nil
}

// AtEach reads the states at several times in one pass over the records
// (zero: everything).
func AtEach(ctx context.Context, tr audit.Reader, times []time.Time) ([]*State, error) {
	out := make([]*State, len(times))
	at := make([]time.Time, len(times))
	for i, t := range times {
		out[i] = New(t)
		at[i] = t
		if t.IsZero() {
			at[i] = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
		}
	}
	for _, k := range kinds {
		for recs, err := range newest(ctx, tr, k.actions, k.members, at) {
			if err != nil {
				return nil, fmt.Errorf("read %s records: %w", strings.Join(k.actions, ", "), err)
			}
			for i, r := range recs {
				if r == nil || r.Source != k.source {
					continue
				}
				if err := k.apply(out[i], r); err != nil {
					return nil, fmt.Errorf("record %d (%s %s): %w", r.Sequence, r.Action, r.Target, err)
				}
			}
		}
	}
	return out, nil
}

// newest uses the store's NewestReader when it has one, else reads every
// record of the actions once.
func newest(ctx context.Context, tr audit.Reader, actions, members []string, at []time.Time) iter.Seq2[[]*audit.Record, error] {
	if nr, ok := tr.(NewestReader); ok {
		return nr.NewestByTarget(ctx, actions, at, members)
	}
	return func(yield func([]*audit.Record, error) bool) {
		latest := map[string][]*audit.Record{}
		var order []string
		for _, a := range actions {
			for r, err := range tr.Query(ctx, audit.Filter{Action: a, Limit: -1}) {
				if err != nil {
					yield(nil, err)
					return
				}
				cur, ok := latest[r.Target]
				if !ok {
					cur = make([]*audit.Record, len(at))
					latest[r.Target] = cur
					order = append(order, r.Target)
				}
				for i, t := range at {
					if !r.Timestamp.After(t) && (cur[i] == nil || r.Sequence > cur[i].Sequence) {
						cur[i] = r
					}
				}
			}
		}
		for _, t := range order {
			if !yield(latest[t], nil) {
				return
			}
		}
	}
}

func applyFile(s *State, r *audit.Record) error {
	if r.Action == file.ActionRemoved {
		delete(s.Files, r.Target)
		return nil
	}
	f := File{Mode: str(r.Context, "mode"), SHA256: str(r.Context, "sha256"), Type: str(r.Context, "file_type"), Size: audit.Int(r.Context, "size")}
	if f.SHA256 == "" {
		return fmt.Errorf("no sha256")
	}
	s.Files[r.Target] = f
	return nil
}

func applyModule(s *State, r *audit.Record) error {
	raw, ok := r.Context["dependencies"]
	if !ok {
		return nil // audited without dependencies
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	var deps []manifest.Dependency
	if err := json.Unmarshal(b, &deps); err != nil {
		return fmt.Errorf("dependencies: %w", err)
	}
	// Sorted by file, so that a name declared twice (a pin and a lock)
	// keeps the same entry in every state.
	slices.SortStableFunc(deps, func(a, b manifest.Dependency) int { return cmp.Compare(a.File, b.File) })
	for _, d := range deps {
		dep := Dependency{Module: r.Target, Ecosystem: d.Ecosystem, Group: d.Group, Name: d.Name, Version: d.Version, Spec: d.Spec, File: d.File}
		if _, dup := s.Dependencies[dep.Key()]; !dup {
			s.Dependencies[dep.Key()] = dep
		}
	}
	return nil
}

func applyService(s *State, r *audit.Record) error {
	st := str(r.Context, "state")
	if st == service.StateRemoved {
		delete(s.Services, r.Target)
		return nil
	}
	s.Services[r.Target] = Service{State: st, Kind: str(r.Context, "kind")}
	return nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
