package service

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/shirou/gopsutil/v4/disk"
	gnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
)

// ProcessFacts describes a local service's process.
type ProcessFacts struct {
	PID        int32    `json:"pid"`
	Cmdline    string   `json:"cmdline"`
	CPUPercent float64  `json:"cpu_percent"`
	RSSBytes   uint64   `json:"rss_bytes"`
	Ports      []uint32 `json:"ports,omitempty"`
	Started    time.Time
	Uptime     time.Duration
}

// findProcess finds a local service's process: by its pid file, else by
// the owner of the port its TCP check listens on.
func findProcess(ctx context.Context, s *Service, root string, listeners map[uint32]int32) (int32, bool) {
	if s.PIDFile != "" {
		p := s.PIDFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		if b, err := os.ReadFile(p); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				if ok, _ := process.PidExistsWithContext(ctx, int32(pid)); ok {
					return int32(pid), true
				}
			}
		}
	}
	for _, c := range s.Checks {
		if c.Kind == "tcp" {
			if pid, ok := listeners[uint32(c.Port)]; ok && pid > 0 {
				return pid, true
			}
		}
	}
	return 0, false
}

// listeningPorts maps every listening TCP port to its process.
func listeningPorts(ctx context.Context) map[uint32]int32 {
	out := map[uint32]int32{}
	conns, err := gnet.ConnectionsWithContext(ctx, "tcp")
	if err != nil {
		return out
	}
	for _, c := range conns {
		if c.Status == "LISTEN" {
			out[c.Laddr.Port] = c.Pid
		}
	}
	return out
}

func processFacts(ctx context.Context, pid int32, listeners map[uint32]int32) (*ProcessFacts, error) {
	p, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return nil, err
	}
	f := &ProcessFacts{PID: pid}
	f.Cmdline, _ = p.CmdlineWithContext(ctx)
	f.CPUPercent, _ = p.CPUPercentWithContext(ctx)
	if mi, err := p.MemoryInfoWithContext(ctx); err == nil {
		f.RSSBytes = mi.RSS
	}
	if ms, err := p.CreateTimeWithContext(ctx); err == nil && ms > 0 {
		f.Started = time.UnixMilli(ms).UTC()
		f.Uptime = time.Since(f.Started).Round(time.Second)
	}
	for port, owner := range listeners {
		if owner == pid {
			f.Ports = append(f.Ports, port)
		}
	}
	slices.Sort(f.Ports)
	return f, nil
}

// ContainerFacts describes a container as the engine reports it.
type ContainerFacts struct {
	Name     string
	ID       string
	State    string // running, exited, …; "missing" when the engine has none
	Health   string // healthy, unhealthy, starting; "" without a healthcheck
	Restarts int
	Image    string
	Started  time.Time
	Uptime   time.Duration
}

// Engine is a Docker Engine API (docker or podman's compatible socket).
type Engine struct {
	cli  *client.Client
	Host string
}

// DefaultEngineHosts are tried in order when no host is configured.
func DefaultEngineHosts() []string {
	hosts := []string{"unix:///var/run/docker.sock", "unix:///run/podman/podman.sock"}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		hosts = append(hosts, "unix://"+filepath.Join(d, "podman", "podman.sock"), "unix://"+filepath.Join(d, "docker.sock"))
	}
	return hosts
}

// ConnectEngine returns the first engine of hosts that answers a ping
// within timeout, or nil and the reason none did.
func ConnectEngine(ctx context.Context, hosts []string, timeout time.Duration) (*Engine, string) {
	var tried []string
	for _, h := range hosts {
		if strings.HasPrefix(h, "unix://") {
			if _, err := os.Stat(strings.TrimPrefix(h, "unix://")); err != nil {
				tried = append(tried, h+": no socket")
				continue
			}
		}
		cli, err := client.New(client.WithHost(h))
		if err != nil {
			tried = append(tried, h+": "+err.Error())
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		_, err = cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err != nil {
			cli.Close()
			tried = append(tried, h+": "+err.Error())
			continue
		}
		return &Engine{cli: cli, Host: h}, ""
	}
	return nil, "no container engine answered (" + strings.Join(tried, "; ") + ")"
}

// Close releases the client.
func (e *Engine) Close() error { return e.cli.Close() }

// Inspect returns a container's facts; a container the engine does not
// know is State "missing".
func (e *Engine) Inspect(ctx context.Context, name string) (*ContainerFacts, error) {
	res, err := e.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		if isNotFound(err) {
			return &ContainerFacts{Name: name, State: "missing"}, nil
		}
		return nil, err
	}
	c := res.Container
	f := &ContainerFacts{Name: name, ID: c.ID, Restarts: c.RestartCount}
	if c.Config != nil {
		f.Image = c.Config.Image
	}
	if c.State != nil {
		f.State = string(c.State.Status)
		if c.State.Health != nil {
			f.Health = string(c.State.Health.Status)
		}
		if t, err := time.Parse(time.RFC3339Nano, c.State.StartedAt); err == nil && t.Year() > 1 && f.State == "running" {
			f.Started = t.UTC()
			f.Uptime = time.Since(t).Round(time.Second)
		}
	}
	return f, nil
}

func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err) || strings.Contains(strings.ToLower(err.Error()), "no such container")
}

// DiskFacts is the space a data directory uses.
type DiskFacts struct {
	Dir       string  `json:"dir"`
	Bytes     int64   `json:"bytes"`
	Files     int64   `json:"files"`
	FSUsedPct float64 `json:"fs_used_percent,omitempty"`
	Missing   bool    `json:"missing,omitempty"`
}

// diskFacts sums a directory's files (bounded by ctx).
func diskFacts(ctx context.Context, root, dir string) DiskFacts {
	p := dir
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	f := DiskFacts{Dir: dir}
	if _, err := os.Stat(p); err != nil {
		f.Missing = true
		return f
	}
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			return nil
		}
		if !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				f.Bytes += fi.Size()
				f.Files++
			}
		}
		return nil
	})
	if u, err := disk.UsageWithContext(ctx, p); err == nil {
		f.FSUsedPct = float64(int(u.UsedPercent*10)) / 10
	}
	return f
}
