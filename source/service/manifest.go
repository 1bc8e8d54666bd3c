package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	logsource "github.com/ami-orchestrator/ami-audit/source/log"
)

// ManifestPaths are where a repository keeps its launcher manifest,
// relative to its root, newest first (the log source reads the same
// manifest to find a service's log files).
var ManifestPaths = logsource.ManifestPaths

// Errors.
var (
	ErrNoManifest     = logsource.ErrNoManifest
	ErrUnknownService = errors.New("unknown service")
	ErrUnknownProfile = errors.New("unknown profile")
)

// FindManifest returns the manifest under root (see ManifestPaths).
func FindManifest(root string) (string, error) { return logsource.FindManifest(root) }

// Manifest is the launcher manifest with its compose files read.
type Manifest struct {
	Path     string // the manifest file
	Root     string // the repository root compose paths are relative to
	Services []*Service
	Profiles map[string]Profile
	// Problems are what could not be read (a compose file), each naming
	// the file; they do not stop the run.
	Problems []string
}

// Profile is a named group of services.
type Profile struct {
	Description string   `yaml:"description"`
	Autostart   bool     `yaml:"autostart"`
	Services    []string `yaml:"services"`
}

// Service is one service of the manifest.
type Service struct {
	Name    string
	Summary string
	Module  string
	Tags    []string
	// Kind is "compose" (a container of a compose file) or "local" (a
	// process the launcher starts: python, node or command).
	Kind      string
	LocalKind string // python, node, command
	Command   string // local command line
	Cwd       string // local working directory, relative to Root
	// Compose service and file; Container its container name
	// (container_name, else <project>-<service>-1).
	ComposeFile, ComposeService, Container, Image string
	// ComposeHealth is the compose healthcheck test, for the record.
	ComposeHealth []string
	Checks        []Check
	// DataDirs are host directories holding the service's data (compose
	// bind mounts, the manifest's data_dirs).
	DataDirs []string
	// PIDFile, when set, names the local process.
	PIDFile  string
	Profiles []string
}

// Check is one health check.
type Check struct {
	Kind    string // tcp, http, command
	Host    string
	Port    int
	URL     string
	Status  int // expected HTTP status; 0 means any 2xx or 3xx
	Command string
	Timeout time.Duration
	// Derived says the check comes from a compose port mapping, not from
	// the manifest.
	Derived bool
}

// Target describes the check for a report ("tcp 127.0.0.1:5432").
func (c Check) Target() string {
	switch c.Kind {
	case "tcp":
		return fmt.Sprintf("tcp %s:%d", c.Host, c.Port)
	case "http":
		return "http " + c.URL
	}
	return "command " + c.Command
}

// DefaultTimeout is a check's timeout when the manifest gives none.
const DefaultTimeout = 5 * time.Second

type manifestYAML struct {
	Services map[string]struct {
		Summary string `yaml:"summary"`
		Module  string `yaml:"module"`
		Tags    []string
		Compose *struct {
			File    string `yaml:"file"`
			Service string `yaml:"service"`
		} `yaml:"compose"`
		Execution struct {
			Local struct {
				Enabled bool   `yaml:"enabled"`
				Kind    string `yaml:"kind"`
				Command string `yaml:"command"`
				Cwd     string `yaml:"cwd"`
			} `yaml:"local"`
		} `yaml:"execution"`
		Health   healthYAML `yaml:"health"`
		DataDirs []string   `yaml:"data_dirs"`
		PIDFile  string     `yaml:"pid_file"`
	} `yaml:"services"`
	Profiles map[string]Profile `yaml:"profiles"`
}

type healthYAML struct {
	TCP *struct {
		Host    string  `yaml:"host"`
		Port    int     `yaml:"port"`
		Timeout float64 `yaml:"timeout"`
	} `yaml:"tcp"`
	HTTP *struct {
		URL     string  `yaml:"url"`
		Status  int     `yaml:"status"`
		Timeout float64 `yaml:"timeout"`
	} `yaml:"http"`
	Command *struct {
		Run     string  `yaml:"run"`
		Timeout float64 `yaml:"timeout"`
	} `yaml:"command"`
}

type composeYAML struct {
	Services map[string]struct {
		Image         string   `yaml:"image"`
		ContainerName string   `yaml:"container_name"`
		Ports         []any    `yaml:"ports"`
		Volumes       []any    `yaml:"volumes"`
		Profiles      []string `yaml:"profiles"`
		Healthcheck   *struct {
			Test    any    `yaml:"test"`
			Timeout string `yaml:"timeout"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// LoadManifest reads a launcher manifest and the compose files its
// services name (relative to root; empty root: the directory holding the
// manifest's scripts/ folder).
func LoadManifest(path, root string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("services manifest: %w", err)
	}
	var y manifestYAML
	if err := yaml.Unmarshal(b, &y); err != nil {
		return nil, fmt.Errorf("services manifest %s: %w", path, err)
	}
	if root == "" {
		root = repoRoot(path)
	}
	m := &Manifest{Path: path, Root: root, Profiles: y.Profiles}
	composes := map[string]*composeYAML{}
	compose := func(file string) *composeYAML {
		if c, ok := composes[file]; ok {
			return c
		}
		var c composeYAML
		cb, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err == nil {
			err = yaml.Unmarshal(cb, &c)
		}
		if err != nil {
			m.Problems = append(m.Problems, fmt.Sprintf("compose file %s: %v", file, err))
			composes[file] = nil
			return nil
		}
		composes[file] = &c
		return &c
	}
	names := make([]string, 0, len(y.Services))
	for n := range y.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ys := y.Services[n]
		s := &Service{Name: n, Summary: ys.Summary, Module: ys.Module, Tags: ys.Tags, DataDirs: ys.DataDirs, PIDFile: ys.PIDFile}
		if ys.Compose != nil && ys.Compose.Service != "" {
			s.Kind, s.ComposeFile, s.ComposeService = "compose", ys.Compose.File, ys.Compose.Service
			project := strings.ToLower(filepath.Base(root))
			s.Container = project + "-" + s.ComposeService + "-1"
			if c := compose(ys.Compose.File); c != nil {
				cs, ok := c.Services[ys.Compose.Service]
				if !ok {
					m.Problems = append(m.Problems, fmt.Sprintf("compose file %s has no service %q (named by %s)", ys.Compose.File, ys.Compose.Service, n))
				}
				if cs.ContainerName != "" {
					s.Container = cs.ContainerName
				}
				s.Image = cs.Image
				if cs.Healthcheck != nil {
					s.ComposeHealth = healthTest(cs.Healthcheck.Test)
				}
				for _, p := range cs.Ports {
					if port, ok := publishedPort(p); ok {
						s.Checks = append(s.Checks, Check{Kind: "tcp", Host: "127.0.0.1", Port: port, Timeout: DefaultTimeout, Derived: true})
					}
				}
				for _, v := range cs.Volumes {
					if dir, ok := bindSource(v); ok {
						s.DataDirs = append(s.DataDirs, dir)
					}
				}
			}
		} else {
			s.Kind = "local"
			s.LocalKind, s.Command, s.Cwd = ys.Execution.Local.Kind, ys.Execution.Local.Command, ys.Execution.Local.Cwd
		}
		if h := ys.Health; h.TCP != nil || h.HTTP != nil || h.Command != nil {
			s.Checks = s.Checks[:0] // the manifest's checks replace derived ones
			if h.TCP != nil {
				host := h.TCP.Host
				if host == "" || host == "0.0.0.0" {
					host = "127.0.0.1"
				}
				s.Checks = append(s.Checks, Check{Kind: "tcp", Host: host, Port: h.TCP.Port, Timeout: seconds(h.TCP.Timeout)})
			}
			if h.HTTP != nil {
				s.Checks = append(s.Checks, Check{Kind: "http", URL: h.HTTP.URL, Status: h.HTTP.Status, Timeout: seconds(h.HTTP.Timeout)})
			}
			if h.Command != nil {
				s.Checks = append(s.Checks, Check{Kind: "command", Command: h.Command.Run, Timeout: seconds(h.Command.Timeout)})
			}
		}
		for pn, p := range y.Profiles {
			if slices.Contains(p.Services, n) {
				s.Profiles = append(s.Profiles, pn)
			}
		}
		slices.Sort(s.Profiles)
		m.Services = append(m.Services, s)
	}
	return m, nil
}

func seconds(f float64) time.Duration {
	if f <= 0 {
		return DefaultTimeout
	}
	return time.Duration(f * float64(time.Second))
}

// healthTest renders a compose healthcheck test (a string or a list).
func healthTest(t any) []string {
	switch v := t.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

var varDefault = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}`)

// expand replaces ${VAR:-default} by its default (the environment is not
// read: the manifest's defaults are what the repository declares).
func expand(s string) string {
	return varDefault.ReplaceAllStringFunc(s, func(m string) string {
		sub := varDefault.FindStringSubmatch(m)
		return sub[1]
	})
}

// publishedPort returns the host port of a compose port mapping
// ("5432:5432", "127.0.0.1:8080:80", {published: 80}).
func publishedPort(p any) (int, bool) {
	var s string
	switch v := p.(type) {
	case string:
		s = expand(v)
	case int:
		return 0, false // a container port only
	case map[string]any:
		if pub, ok := v["published"]; ok {
			s = expand(fmt.Sprint(pub)) + ":x"
		}
	}
	parts := strings.Split(strings.Split(s, "/")[0], ":")
	if len(parts) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil || n <= 0 || n > 65535 {
		return 0, false
	}
	return n, true
}

// bindSource returns the host directory of a bind mount ("./data:/x"),
// relative to the compose file's project, or false for a named volume.
func bindSource(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		if m, ok := v.(map[string]any); ok && m["type"] == "bind" {
			src, _ := m["source"].(string)
			return src, src != ""
		}
		return "", false
	}
	src := strings.Split(expand(s), ":")[0]
	if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "/") || strings.HasPrefix(src, "../") {
		return src, true
	}
	return "", false
}

// repoRoot is the directory the manifest's path is relative to: the path
// without one of ManifestPaths, else the manifest's directory.
func repoRoot(manifestPath string) string {
	abs, err := filepath.Abs(manifestPath)
	if err != nil {
		abs = manifestPath
	}
	slash := filepath.ToSlash(abs)
	for _, p := range ManifestPaths {
		if root, ok := strings.CutSuffix(slash, "/"+p); ok {
			return filepath.FromSlash(root)
		}
	}
	return filepath.Dir(abs)
}

// Select returns the services named, or those of a profile, or all.
func (m *Manifest) Select(names []string, profile string) ([]*Service, error) {
	if profile != "" {
		p, ok := m.Profiles[profile]
		if !ok {
			known := make([]string, 0, len(m.Profiles))
			for k := range m.Profiles {
				known = append(known, k)
			}
			slices.Sort(known)
			return nil, fmt.Errorf("%w %q in %s (known: %s)", ErrUnknownProfile, profile, m.Path, strings.Join(known, ", "))
		}
		names = append(names, p.Services...)
	}
	if len(names) == 0 {
		return m.Services, nil
	}
	var out []*Service
	for _, n := range names {
		i := slices.IndexFunc(m.Services, func(s *Service) bool { return s.Name == n })
		if i < 0 {
			known := make([]string, 0, len(m.Services))
			for _, s := range m.Services {
				known = append(known, s.Name)
			}
			return nil, fmt.Errorf("%w %q in %s (known: %s)", ErrUnknownService, n, m.Path, strings.Join(known, ", "))
		}
		if !slices.Contains(out, m.Services[i]) {
			out = append(out, m.Services[i])
		}
	}
	return out, nil
}
