package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ManifestPaths are where a repository keeps its services manifest,
// relative to its root, newest first.
var ManifestPaths = []string{"scripts/config/services.yaml", "scripts/services.yaml"}

// ErrUnknownService is returned for a service the manifest does not list.
var ErrUnknownService = errors.New("unknown service")

// ErrNoManifest is returned when no services manifest is found.
var ErrNoManifest = errors.New("no services manifest")

type manifest struct {
	Services map[string]struct {
		Compose struct {
			File    string `yaml:"file"`
			Service string `yaml:"service"`
		} `yaml:"compose"`
	} `yaml:"services"`
}

type composeFile struct {
	Services map[string]struct {
		ContainerName string `yaml:"container_name"`
	} `yaml:"services"`
}

// FindManifest returns the services manifest under root (see
// ManifestPaths).
func FindManifest(root string) (string, error) {
	for _, p := range ManifestPaths {
		full := filepath.Join(root, p)
		if fi, err := os.Stat(full); err == nil && fi.Mode().IsRegular() {
			return full, nil
		}
	}
	return "", fmt.Errorf("%w under %s (looked for %s)", ErrNoManifest, cmpOr(root, "."), strings.Join(ManifestPaths, ", "))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ServiceNames returns the names a service's logs may carry: the
// service's name in the manifest, its compose service name, and its
// container's name from the compose file (container_name), in that order.
// With an empty manifestPath the manifest is found under root. The compose
// file is read relative to the repository root (the directory holding
// scripts/); a compose file that cannot be read only loses the container
// name.
func ServiceNames(manifestPath, root, service string) ([]string, error) {
	if manifestPath == "" {
		var err error
		if manifestPath, err = FindManifest(root); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("services manifest: %w", err)
	}
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("services manifest %s: %w", manifestPath, err)
	}
	svc, ok := m.Services[service]
	if !ok {
		known := make([]string, 0, len(m.Services))
		for k := range m.Services {
			known = append(known, k)
		}
		slices.Sort(known)
		if len(known) > 12 {
			known = append(known[:12], "…")
		}
		return nil, fmt.Errorf("%w %q in %s (known: %s)", ErrUnknownService, service, manifestPath, strings.Join(known, ", "))
	}
	names := []string{service}
	if c := svc.Compose.Service; c != "" && !slices.Contains(names, c) {
		names = append(names, c)
	}
	if svc.Compose.File != "" && svc.Compose.Service != "" {
		repo := repoRoot(manifestPath)
		if data, err := os.ReadFile(filepath.Join(repo, svc.Compose.File)); err == nil {
			var cf composeFile
			if yaml.Unmarshal(data, &cf) == nil {
				if cn := cf.Services[svc.Compose.Service].ContainerName; cn != "" && !slices.Contains(names, cn) {
					names = append(names, cn)
				}
			}
		}
	}
	return names, nil
}

// repoRoot is the directory that holds the manifest's scripts/ directory.
func repoRoot(manifestPath string) string {
	dir := filepath.Dir(manifestPath)
	for d := dir; ; {
		if filepath.Base(d) == "scripts" {
			return filepath.Dir(d)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// ServiceMatcher returns a test of a log file's path (relative to the log
// directory) against a service's names. A file belongs to the service when
//
//   - one of its parent directories is named after the service
//     (logs/data-postgres/…, logs/postgres/…), or
//   - its name, without compression, log extensions and rotation numbers
//     (.gz .bz2 .log .jsonl .json .txt .out .err .1 .2 …), is one of the
//     names (data-postgres.log, ami-postgres.log.1.gz), or is a name
//     followed by "-", "_" or "." and a digit (postgres-2025-12-01.log,
//     ami-postgres_3.log).
func ServiceMatcher(names []string) func(rel string) bool {
	return func(rel string) bool {
		rel = filepath.ToSlash(rel)
		parts := strings.Split(rel, "/")
		for _, dir := range parts[:len(parts)-1] {
			if slices.Contains(names, dir) {
				return true
			}
		}
		stem := logStem(parts[len(parts)-1])
		for _, n := range names {
			if stem == n {
				return true
			}
			if len(stem) > len(n)+1 && strings.HasPrefix(stem, n) && strings.ContainsRune("-_.", rune(stem[len(n)])) && isDigit(stem[len(n)+1]) {
				return true
			}
		}
		return false
	}
}

// logStem strips compression, log extensions and rotation numbers.
func logStem(name string) string {
	for {
		ext := filepath.Ext(name)
		if ext == "" || ext == name {
			return name
		}
		e := strings.ToLower(ext[1:])
		switch e {
		case "gz", "bz2", "log", "jsonl", "json", "txt", "out", "err":
		default:
			if !allDigits(e) {
				return name
			}
		}
		name = strings.TrimSuffix(name, ext)
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// LocateManifest looks for the services manifest in dir and its parents
// and returns it with the repository root that holds it.
func LocateManifest(dir string) (manifest, root string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for d := abs; ; {
		if m, err := FindManifest(d); err == nil {
			return m, d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", fmt.Errorf("%w in %s or above (looked for %s)", ErrNoManifest, abs, strings.Join(ManifestPaths, ", "))
		}
		d = parent
	}
}
