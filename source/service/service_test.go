package service

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

func writeFile(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func collect(t *testing.T, trail *memtrail.Trail, root string, cfg Config) (map[string]*audit.Record, *Run) {
	t.Helper()
	cfg.Trail = trail
	if cfg.EngineHosts == nil {
		cfg.NoEngine = true
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*audit.Record{}
	var recs []*audit.Record
	if err := src.Collect(context.Background(), root, func(r *audit.Record) error {
		got[r.Target] = r
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		if err := trail.Append(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	return got, src.LastRun()
}

// listener starts a TCP listener and returns its port.
func listener(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// closedPort returns a port nobody listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

// startListenerProcess starts a child process listening on a TCP port and
// returns it with the port.
func startListenerProcess(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed to start a listening process")
	}
	cmd := exec.Command(py, "-c", `import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(600)`)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return cmd, port
}

func TestHealthAgainstRealThings(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer broken.Close()
	tcp := listener(t)
	closed := closedPort(t)
	child, childPort := startListenerProcess(t)

	root := t.TempDir()
	writeFile(t, root, "proc.pid", strconv.Itoa(child.Process.Pid))
	writeFile(t, root, "data/db/file", strings.Repeat("x", 1000))
	writeFile(t, root, "scripts/config/services.yaml", fmt.Sprintf(`version: 1
services:
  web-ok:
    execution: {local: {enabled: true, kind: command, command: "serve"}}
    health: {http: {url: %q, timeout: 2}}
  web-500:
    execution: {local: {enabled: true, kind: command, command: "serve"}}
    health: {http: {url: %q, timeout: 2}}
  tcp-up:
    health: {tcp: {host: 127.0.0.1, port: %d, timeout: 2}}
    data_dirs: [data/db]
  tcp-down:
    health: {tcp: {host: 127.0.0.1, port: %d, timeout: 2}}
  cmd-fails:
    health: {command: {run: "exit 3", timeout: 2}}
  cmd-ok:
    health: {command: {run: "test -d data", timeout: 2}}
  worker:
    execution: {local: {enabled: true, kind: python, command: "python3 worker.py"}}
    pid_file: proc.pid
    health: {tcp: {host: 0.0.0.0, port: %d, timeout: 2}}
profiles:
  web: {services: [web-ok, web-500]}
`, ok.URL, broken.URL, tcp, closed, childPort))

	trail := &memtrail.Trail{}
	got, run := collect(t, trail, root, Config{})
	states := map[string]string{}
	for n, r := range got {
		states[n] = r.Context["state"].(string)
	}
	want := map[string]string{"web-ok": "up", "web-500": "down", "tcp-up": "up", "tcp-down": "down",
		"cmd-fails": "down", "cmd-ok": "up", "worker": "up"}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Fatalf("states (-want +got):\n%s\nrun: %+v", diff, run)
	}
	if r := got["web-500"]; r.Severity != audit.SeverityError || !strings.Contains(r.Context["reason"].(string), "HTTP 500") {
		t.Errorf("web-500: %v %v", r.Severity, r.Context["reason"])
	}
	if r := got["tcp-down"]; !strings.Contains(r.Context["reason"].(string), "refused") || r.Context["check_kind"] != "tcp" {
		t.Errorf("tcp-down: %v", r.Context)
	}
	if r := got["cmd-fails"]; !strings.Contains(r.Context["reason"].(string), "exit status 3") {
		t.Errorf("cmd-fails: %v", r.Context["reason"])
	}
	p, _ := got["worker"].Context["process"].(map[string]any)
	if p == nil || p["pid"] != int64(child.Process.Pid) || !strings.Contains(p["cmdline"].(string), "socket") || p["rss_bytes"].(int64) <= 0 {
		t.Errorf("worker process facts: %v", got["worker"].Context["process"])
	}
	if ports, _ := p["ports"].([]any); len(ports) != 1 || ports[0] != int64(childPort) {
		t.Errorf("worker ports: %v", p["ports"])
	}
	d, _ := got["tcp-up"].Context["disk"].([]any)
	if len(d) != 1 || d[0].(map[string]any)["bytes"] != int64(1000) {
		t.Errorf("disk: %v", got["tcp-up"].Context["disk"])
	}

	// a re-run on unchanged services appends nothing; --heartbeat appends all
	if again, _ := collect(t, trail, root, Config{}); len(again) != 0 {
		t.Fatalf("re-run appended %d records", len(again))
	}
	if hb, _ := collect(t, trail, root, Config{Heartbeat: true, Profile: "web"}); len(hb) != 2 || hb["web-ok"].Severity != audit.SeverityInfo {
		t.Errorf("heartbeat of profile web: %v", hb)
	}

	// the worker dies: exactly one record, severity error
	child.Process.Kill()
	child.Wait()
	changed, _ := collect(t, trail, root, Config{})
	if len(changed) != 1 || changed["worker"] == nil {
		t.Fatalf("after the kill: %d records %v", len(changed), changed)
	}
	if r := changed["worker"]; r.Severity != audit.SeverityError || r.Context["state"] != "down" || r.Context["previous_state"] != "up" {
		t.Errorf("worker after kill: %v %v", r.Severity, r.Context)
	}
}

// engine serves the Docker Engine API on a unix socket with recorded
// responses (testdata/engine/<container>.json).
func engine(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "engine")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.44")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Write([]byte("OK"))
			return
		}
		parts := strings.Split(r.URL.Path, "/")
		// /v1.44/containers/NAME/json
		if len(parts) == 5 && parts[2] == "containers" && parts[4] == "json" {
			b, err := os.ReadFile(filepath.Join("testdata/engine", filepath.Base(parts[3])+".json"))
			if err != nil {
				w.WriteHeader(404)
				fmt.Fprintf(w, `{"message":"No such container: %s"}`, parts[3])
				return
			}
			w.Write(b)
			return
		}
		w.WriteHeader(404)
		w.Write([]byte(`{"message":"page not found"}`))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func TestContainersThroughTheEngineAPI(t *testing.T) {
	host := engine(t)
	port := listener(t)
	root := t.TempDir()
	writeFile(t, root, "scripts/config/services.yaml", `services:
  data-postgres: {compose: {file: docker-compose.data.yml, service: postgres}}
  data-redis: {compose: {file: docker-compose.data.yml, service: redis}}
  data-mongo: {compose: {file: docker-compose.data.yml, service: mongo}}
  data-dgraph: {compose: {file: docker-compose.data.yml, service: dgraph}}
`)
	writeFile(t, root, "docker-compose.data.yml", fmt.Sprintf(`services:
  postgres: {image: "pgvector/pgvector:pg16", container_name: ami-postgres, ports: ["${PG_PORT:-%d}:5432"]}
  redis: {image: "redis:7", container_name: ami-redis, ports: ["%d:6379"]}
  mongo: {image: "mongo:7", container_name: ami-mongo}
  dgraph: {image: "dgraph/standalone", container_name: ami-dgraph}
`, port, port))
	trail := &memtrail.Trail{}
	got, run := collect(t, trail, root, Config{EngineHosts: []string{"unix:///nonexistent.sock", host}})
	if run.Engine != host {
		t.Fatalf("engine %q (%s)", run.Engine, run.EngineProblem)
	}
	states := map[string]string{}
	for n, r := range got {
		states[n] = r.Context["state"].(string)
	}
	if diff := cmp.Diff(map[string]string{"data-postgres": "up", "data-redis": "degraded", "data-mongo": "down", "data-dgraph": "down"}, states); diff != "" {
		t.Fatalf("states (-want +got):\n%s", diff)
	}
	c := got["data-postgres"].Context["container"].(map[string]any)
	if c["image"] != "pgvector/pgvector:pg16" || c["restarts"] != int64(2) || c["health"] != "healthy" || c["state"] != "running" {
		t.Errorf("postgres container: %v", c)
	}
	if got["data-redis"].Severity != audit.SeverityWarning || got["data-mongo"].Severity != audit.SeverityError {
		t.Errorf("severities: redis %s mongo %s", got["data-redis"].Severity, got["data-mongo"].Severity)
	}
	if !strings.Contains(got["data-dgraph"].Context["reason"].(string), "missing") {
		t.Errorf("dgraph: %v", got["data-dgraph"].Context["reason"])
	}
	// no engine: said once, and the checks still decide
	_, run = collect(t, &memtrail.Trail{}, root, Config{EngineHosts: []string{"unix:///nonexistent.sock"}})
	if run.Engine != "" || !strings.Contains(run.EngineProblem, "no container engine answered") {
		t.Errorf("no engine: %q %q", run.Engine, run.EngineProblem)
	}
}

func TestRealAMIManifest(t *testing.T) {
	m, err := LoadManifest("../../testdata/ami/scripts/config/services.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Service{}
	for _, s := range m.Services {
		byName[s.Name] = s
	}
	pg := byName["data-postgres"]
	if pg == nil || pg.Container != "ami-postgres" || pg.Image != "pgvector/pgvector:pg16" || len(pg.Checks) != 1 || pg.Checks[0].Port != 5432 ||
		!strings.Contains(strings.Join(pg.ComposeHealth, " "), "pg_isready") {
		t.Errorf("data-postgres: %+v", pg)
	}
	sb := byName["secrets-broker"]
	if sb == nil || sb.Kind != "local" || sb.LocalKind != "python" || sb.Cwd != "base" || len(sb.Checks) != 1 ||
		sb.Checks[0].Host != "127.0.0.1" || sb.Checks[0].Port != 8700 || sb.Checks[0].Timeout != 5*time.Second {
		t.Errorf("secrets-broker: %+v", sb)
	}
	dev, err := m.Select(nil, "dev")
	if err != nil || len(dev) != 8 {
		t.Errorf("profile dev: %d services, %v", len(dev), err)
	}
	if _, err := m.Select([]string{"nope"}, ""); err == nil {
		t.Error("unknown service accepted")
	}
	// compose files the manifest names but the fixture lacks are problems,
	// not errors
	if len(m.Problems) == 0 {
		t.Error("missing compose files not reported")
	}
}

// TestConcurrentChecks: 30 services, half of them down behind a timeout
// (the time it takes is measured by BenchmarkServices).
func TestConcurrentChecks(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	b.WriteString("services:\n")
	up := listener(t)
	for i := range 30 {
		if i%2 == 0 {
			fmt.Fprintf(&b, "  s%d: {health: {tcp: {host: 127.0.0.1, port: %d, timeout: 1}}}\n", i, up)
		} else {
			fmt.Fprintf(&b, "  s%d: {health: {command: {run: \"sleep 5\", timeout: 0.5}}}\n", i)
		}
	}
	writeFile(t, root, "scripts/config/services.yaml", b.String())
	got, _ := collect(t, &memtrail.Trail{}, root, Config{})
	down := 0
	for _, r := range got {
		if r.Context["state"] == "down" {
			down++
		}
	}
	if len(got) != 30 || down != 15 {
		t.Errorf("%d records, %d down", len(got), down)
	}
}

// TestRemovedServices: a service the manifest no longer lists is recorded
// removed once, only by a run over the whole manifest; one that comes
// back is recorded again.
func TestRemovedServices(t *testing.T) {
	root := t.TempDir()
	up := listener(t)
	manifest := func(names ...string) {
		var b strings.Builder
		b.WriteString("services:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "  %s: {health: {tcp: {host: 127.0.0.1, port: %d, timeout: 1}}}\n", n, up)
		}
		writeFile(t, root, "scripts/config/services.yaml", b.String())
	}
	trail := &memtrail.Trail{}
	manifest("api", "db", "cache")
	if got, _ := collect(t, trail, root, Config{}); len(got) != 3 {
		t.Fatalf("first run recorded %d services", len(got))
	}
	manifest("api", "db")
	if got, _ := collect(t, trail, root, Config{Services: []string{"api"}}); len(got) != 0 {
		t.Errorf("a run over one service recorded %v", got)
	}
	got, _ := collect(t, trail, root, Config{})
	if len(got) != 1 || got["cache"] == nil || got["cache"].Context["state"] != StateRemoved || got["cache"].Context["previous_state"] != StateUp {
		t.Fatalf("after removing cache: %v", got)
	}
	if got, _ := collect(t, trail, root, Config{}); len(got) != 0 {
		t.Errorf("a re-run recorded %v", got)
	}
	manifest("api", "db", "cache")
	if got, _ := collect(t, trail, root, Config{}); len(got) != 1 || got["cache"].Context["state"] != StateUp {
		t.Errorf("cache back: %v", got)
	}
}
