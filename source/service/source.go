// Package service is the service source (SPEC §6): the state of every
// service of a repository's launcher manifest, recorded when it changes.
//
// # What it reads
//
// The launcher manifest (scripts/config/services.yaml, older
// scripts/services.yaml; see AMI-FORMATS.md): its services, their compose
// service (file and name) or local execution (python, node or command, with
// cwd), their health checks and profiles. Compose files give a service's
// container name (container_name, else <project>-<service>-1), image,
// healthcheck, published ports and bind-mounted data directories.
//
// # How a state is decided
//
// Every service is checked at once (bounded by Config.Parallel), each
// check within its own timeout, so a run takes about the longest timeout.
//
//   - Health checks: the manifest's (tcp host/port, http url with an
//     optional expected status, command run through sh, each with a timeout
//     in seconds), else, for a compose service, a TCP connect to each
//     published port on 127.0.0.1.
//   - Containers, through the Docker Engine API (the official client,
//     github.com/moby/moby/client) on the docker socket or podman's
//     docker-compatible socket: state, health, restart count, image, start
//     time. When no engine answers, the run says so once (Run.EngineProblem)
//     and goes on with the health checks.
//   - Local processes, through gopsutil: the process in the manifest's
//     pid_file, else the one listening on the TCP check's port: pid, command
//     line, CPU, resident memory, listening ports, start time.
//   - Data directories (bind mounts, the manifest's data_dirs): bytes and
//     files used, and how full their file system is.
//
// State: "up" when every check passes and the container (if any) is running
// and not unhealthy; "down" when every check fails, or the container is not
// running; "degraded" otherwise (some checks fail, the container is
// unhealthy or still starting). A service with nothing to check is
// "unknown".
//
// # Records (a contract other packages rely on)
//
// One service_state record per service whose state changed since its last
// service_state record (all of them on the first run; every one with
// Config.Heartbeat): target the service's name in the manifest, target type
// "service", source "service_source". Severity: error when the state became
// down, warning when it became degraded, info otherwise. Context: state,
// previous_state, reason, latency_ms (the slowest check), check_kind,
// checks [{kind, target, ok, latency_ms, detail}], kind (compose or local),
// profiles, module, compose_healthcheck (the compose file's test, which
// the engine runs: its verdict is the container's health), and when known process {pid, cmdline, cpu_percent, rss_bytes,
// ports, uptime_s, started}, container {name, id, state, health, restarts,
// image, uptime_s, started}, disk [{dir, bytes, files, fs_used_percent}].
// An unchanged state appends nothing, so a re-run is idempotent. A run
// over the whole manifest (no Services, no Profile) records a service the
// trail holds that the manifest no longer lists once, with state
// "removed" (severity warning; previous_state, reason).
//
// Command lines and environment values may hold secrets; they pass the
// masking step every source's records go through.
package service

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Names the records carry.
const (
	SourceName  = "service_source"
	ActionState = "service_state"
)

// States.
const (
	StateUp       = "up"
	StateDown     = "down"
	StateDegraded = "degraded"
	StateUnknown  = "unknown"
	// StateRemoved: the service is no longer in the manifest.
	StateRemoved = "removed"
)

// Querier is the part of a store the source reads. audit.Store is one.
type Querier interface {
	Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error]
}

// Config configures the service source.
type Config struct {
	// Manifest is the launcher manifest; empty: found under the target.
	Manifest string
	// Services limits the run to these services; Profile to a profile's.
	Services []string
	Profile  string
	// EngineHosts are the Docker Engine API endpoints tried in order
	// (unix:///var/run/docker.sock …); nil means DefaultEngineHosts().
	// NoEngine skips container inspection.
	EngineHosts []string
	NoEngine    bool
	// Heartbeat records every service even when its state did not change.
	Heartbeat bool
	// Parallel services are checked at once; 0 means 64.
	Parallel int
	// Trail is read for the last state of each service; nil records all.
	Trail Querier
	// Actor is the records' actor; empty means the user running it.
	Actor string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Status is one service's observed state.
type Status struct {
	Service       *Service
	State         string
	PreviousState string
	Reason        string
	Latency       time.Duration
	Checks        []CheckResult
	Process       *ProcessFacts
	Container     *ContainerFacts
	Disk          []DiskFacts
	Recorded      bool
}

// Run is the summary of one collection.
type Run struct {
	Manifest      string
	Engine        string // the engine host used, "" when none
	EngineProblem string // why no engine was used
	Statuses      []*Status
	Problems      []string
	Duration      time.Duration
}

// Source is the service source.
type Source struct {
	cfg  Config
	last *Run
}

// New returns a service source.
func New(c Config) (*Source, error) {
	if c.Parallel < 0 {
		return nil, errors.New("service source: Parallel must not be negative")
	}
	if c.Parallel == 0 {
		c.Parallel = 64
	}
	if c.EngineHosts == nil {
		c.EngineHosts = DefaultEngineHosts()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Actor == "" {
		if u, err := user.Current(); err == nil {
			c.Actor = u.Username
		} else {
			c.Actor = "uid:" + strconv.Itoa(os.Getuid())
		}
	}
	return &Source{cfg: c}, nil
}

// Name is the records' source field.
func (s *Source) Name() string { return SourceName }

// Describe says what the source collects.
func (s *Source) Describe() string {
	return "services of the launcher manifest: health checks, containers, processes, data directories"
}

// TargetTypes is the one target type the source produces.
func (s *Source) TargetTypes() []audit.TargetType { return []audit.TargetType{audit.TargetService} }

// LastRun is the summary of the last Collect.
func (s *Source) LastRun() *Run { return s.last }

// Collect checks the services of the manifest of the repository at target
// and emits a service_state record for each whose state changed.
func (s *Source) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	start := time.Now()
	mpath := s.cfg.Manifest
	root := ""
	if mpath == "" {
		var err error
		if mpath, err = FindManifest(target); err != nil {
			return err
		}
		root = target
	}
	m, err := LoadManifest(mpath, root)
	if err != nil {
		return err
	}
	svcs, err := m.Select(s.cfg.Services, s.cfg.Profile)
	if err != nil {
		return err
	}
	run := &Run{Manifest: mpath, Problems: m.Problems}
	s.last = run

	var engine *Engine
	if !s.cfg.NoEngine && slices.ContainsFunc(svcs, func(x *Service) bool { return x.Kind == "compose" }) {
		engine, run.EngineProblem = ConnectEngine(ctx, s.cfg.EngineHosts, 2*time.Second)
		if engine != nil {
			defer engine.Close()
			run.Engine = engine.Host
		}
	}
	var listeners map[uint32]int32
	if slices.ContainsFunc(svcs, func(x *Service) bool { return x.Kind == "local" }) {
		listeners = listeningPorts(ctx)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	run.Statuses = make([]*Status, len(svcs))
	var g errgroup.Group
	g.SetLimit(s.cfg.Parallel)
	var mu sync.Mutex
	for i, svc := range svcs {
		g.Go(func() error {
			st := s.observe(ctx, m.Root, svc, engine, listeners, client)
			mu.Lock()
			run.Statuses[i] = st
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, st := range run.Statuses {
		prev, err := s.lastState(ctx, st.Service.Name)
		if err != nil {
			return err
		}
		st.PreviousState = prev
		if prev == st.State && !s.cfg.Heartbeat {
			continue
		}
		st.Recorded = true
		if err := emit(s.record(st)); err != nil {
			return err
		}
	}
	if len(s.cfg.Services) == 0 && s.cfg.Profile == "" {
		if err := s.removed(ctx, m, mpath, emit); err != nil {
			return err
		}
	}
	run.Duration = time.Since(start)
	return nil
}

// removed records, for a run over the whole manifest, each service the
// trail holds a state of that the manifest no longer lists: a
// service_state record with state "removed".
func (s *Source) removed(ctx context.Context, m *Manifest, mpath string, emit func(*audit.Record) error) error {
	if s.cfg.Trail == nil {
		return nil
	}
	listed := map[string]bool{}
	for _, svc := range m.Services {
		listed[svc.Name] = true
	}
	last := map[string]string{}
	f := audit.Filter{TargetType: audit.TargetService, Action: ActionState, Limit: -1}
	for r, err := range s.cfg.Trail.Query(ctx, f) {
		if err != nil {
			return fmt.Errorf("service source: states recorded before: %w", err)
		}
		if r.Source == SourceName {
			last[r.Target], _ = r.Context["state"].(string)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(last)) {
		if listed[name] || last[name] == StateRemoved {
			continue
		}
		r := audit.New(s.cfg.Actor, ActionState, name, audit.TargetService)
		r.Source = SourceName
		r.Severity = audit.SeverityWarning
		r.Context = map[string]any{"state": StateRemoved, "previous_state": last[name],
			"reason": "no longer in the manifest " + filepath.Base(mpath)}
		r.Normalize()
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// observe checks one service.
func (s *Source) observe(ctx context.Context, root string, svc *Service, engine *Engine, listeners map[uint32]int32, client *http.Client) *Status {
	out := &Status{Service: svc}
	dir := root
	if svc.Cwd != "" {
		dir = filepath.Join(root, svc.Cwd)
	}
	var wg sync.WaitGroup
	out.Checks = make([]CheckResult, len(svc.Checks))
	for i, c := range svc.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Checks[i] = c.run(ctx, client, dir)
		}()
	}
	if svc.Kind == "compose" && engine != nil && svc.Container != "" {
		cf, err := engine.Inspect(ctx, svc.Container)
		if err != nil {
			out.Reason = "container inspection failed: " + err.Error()
		}
		out.Container = cf
	}
	if svc.Kind == "local" {
		if pid, ok := findProcess(ctx, svc, root, listeners); ok {
			if pf, err := processFacts(ctx, pid, listeners); err == nil {
				out.Process = pf
			}
		}
	}
	for _, d := range svc.DataDirs {
		base := root
		if svc.ComposeFile != "" {
			base = filepath.Join(root, filepath.Dir(svc.ComposeFile))
		}
		out.Disk = append(out.Disk, diskFacts(ctx, base, d))
	}
	wg.Wait()
	decide(out)
	return out
}

// decide sets State and Reason from the checks and the container.
func decide(st *Status) {
	pass, fail := 0, 0
	var failed []string
	for _, c := range st.Checks {
		st.Latency = max(st.Latency, c.Latency)
		if c.OK {
			pass++
		} else {
			fail++
			failed = append(failed, c.Target+": "+c.Detail)
		}
	}
	reasons := []string{}
	if st.Reason != "" {
		reasons = append(reasons, st.Reason)
	}
	c := st.Container
	switch {
	case c != nil && c.State != "running":
		st.State = StateDown
		reasons = append(reasons, "container "+c.Name+" is "+c.State)
	case len(st.Checks) > 0 && pass == 0:
		st.State = StateDown
	case c != nil && (c.Health == "unhealthy" || c.Health == "starting"):
		st.State = StateDegraded
		reasons = append(reasons, "container "+c.Name+" is "+c.Health)
	case fail > 0:
		st.State = StateDegraded
	case len(st.Checks) == 0 && c == nil:
		st.State = StateUnknown
		reasons = append(reasons, "nothing to check: no health check, no published port, no container engine")
	default:
		st.State = StateUp
	}
	reasons = append(reasons, failed...)
	if st.State == StateUp && len(reasons) == 0 {
		reasons = append(reasons, "all checks passed")
	}
	st.Reason = strings.Join(reasons, "; ")
}

// lastState is the state of the service's last service_state record.
func (s *Source) lastState(ctx context.Context, name string) (string, error) {
	if s.cfg.Trail == nil {
		return "", nil
	}
	f := audit.Filter{TargetType: audit.TargetService, Action: ActionState, Target: name, Limit: 1, Newest: true}
	for r, err := range s.cfg.Trail.Query(ctx, f) {
		if err != nil {
			return "", fmt.Errorf("service source: last state of %s: %w", name, err)
		}
		st, _ := r.Context["state"].(string)
		return st, nil
	}
	return "", nil
}

func (s *Source) record(st *Status) *audit.Record {
	svc := st.Service
	r := audit.New(s.cfg.Actor, ActionState, svc.Name, audit.TargetService)
	r.Source = SourceName
	switch {
	case st.State == st.PreviousState:
		r.Severity = audit.SeverityInfo
	case st.State == StateDown:
		r.Severity = audit.SeverityError
	case st.State == StateDegraded:
		r.Severity = audit.SeverityWarning
	default:
		r.Severity = audit.SeverityInfo
	}
	c := map[string]any{
		"state":      st.State,
		"reason":     st.Reason,
		"latency_ms": st.Latency.Milliseconds(),
		"kind":       svc.Kind,
	}
	if st.PreviousState != "" {
		c["previous_state"] = st.PreviousState
	}
	var kinds []string
	checks := make([]any, 0, len(st.Checks))
	for _, ch := range st.Checks {
		if !slices.Contains(kinds, ch.Kind) {
			kinds = append(kinds, ch.Kind)
		}
		m := map[string]any{"kind": ch.Kind, "target": ch.Target, "ok": ch.OK, "latency_ms": ch.Latency.Milliseconds()}
		if ch.Detail != "" {
			m["detail"] = ch.Detail
		}
		checks = append(checks, m)
	}
	if st.Container != nil {
		kinds = append(kinds, "container")
	}
	c["check_kind"] = strings.Join(kinds, ",")
	c["checks"] = checks
	if len(svc.Profiles) > 0 {
		c["profiles"] = slices.Clone(svc.Profiles)
	}
	if svc.Module != "" {
		c["module"] = svc.Module
	}
	if len(svc.ComposeHealth) > 0 {
		hc := make([]any, len(svc.ComposeHealth))
		for i, s := range svc.ComposeHealth {
			hc[i] = s
		}
		c["compose_healthcheck"] = hc // run by the engine; its verdict is the container's health
	}
	if p := st.Process; p != nil {
		pm := map[string]any{"pid": int64(p.PID), "cmdline": p.Cmdline, "cpu_percent": p.CPUPercent,
			"rss_bytes": int64(p.RSSBytes), "uptime_s": int64(p.Uptime.Seconds())}
		if !p.Started.IsZero() {
			pm["started"] = p.Started.Format(time.RFC3339)
		}
		ports := make([]any, 0, len(p.Ports))
		for _, x := range p.Ports {
			ports = append(ports, int64(x))
		}
		pm["ports"] = ports
		c["process"] = pm
	}
	if ct := st.Container; ct != nil {
		cm := map[string]any{"name": ct.Name, "state": ct.State, "restarts": int64(ct.Restarts), "image": ct.Image}
		if ct.ID != "" {
			cm["id"] = ct.ID
		}
		if ct.Health != "" {
			cm["health"] = ct.Health
		}
		if !ct.Started.IsZero() {
			cm["started"] = ct.Started.Format(time.RFC3339)
			cm["uptime_s"] = int64(ct.Uptime.Seconds())
		}
		c["container"] = cm
	} else if svc.Kind == "compose" {
		c["container"] = map[string]any{"name": svc.Container, "image": svc.Image, "state": "not inspected"}
	}
	if len(st.Disk) > 0 {
		ds := make([]any, 0, len(st.Disk))
		for _, d := range st.Disk {
			m := map[string]any{"dir": d.Dir, "bytes": d.Bytes, "files": d.Files}
			if d.Missing {
				m["missing"] = true
			} else {
				m["fs_used_percent"] = d.FSUsedPct
			}
			ds = append(ds, m)
		}
		c["disk"] = ds
	}
	r.Context = c
	r.Normalize()
	return r
}
