package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ami-orchestrator/ami-audit/serve/mcpserver"
	"github.com/ami-orchestrator/ami-audit/serve/servetest"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// repo fills the served repository: a git history, a Go module, logs and
// a launcher manifest.
func repo(t testing.TB, root string) {
	t.Helper()
	files := map[string]string{
		"src/app.py":                   "print('hello')\n",
		"src/util.py":                  "def f():\n    return 1\n",
		"mod/go.mod":                   "module example.com/mod\n\ngo 1.22\n",
		"mod/main.go":                  "package main\n\nfunc main() {}\n",
		"logs/app.log":                 `{"time":"2026-01-01T10:00:00Z","level":"error","msg":"timeout after 30s on host a"}` + "\n" + `{"time":"2026-01-01T10:00:01Z","level":"error","msg":"timeout after 12s on host b"}` + "\n" + `{"time":"2026-01-01T10:00:02Z","level":"info","msg":"ok"}` + "\n",
		"scripts/config/services.yaml": "version: 1\nservices:\n  ok-svc:\n    execution: {local: {enabled: true, kind: command, command: \"true\"}}\n    health: {command: {run: \"true\", timeout: 2}}\n  down-svc:\n    execution: {local: {enabled: true, kind: command, command: \"false\"}}\n    health: {command: {run: \"exit 1\", timeout: 2}}\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com", "GIT_COMMITTER_NAME=Ann", "GIT_COMMITTER_EMAIL=ann@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(root, ".gitignore"), []byte(".audit/\n"), 0o644)
	git("add", ".")
	git("commit", "-qm", "first")
	os.WriteFile(filepath.Join(root, "src/app.py"), []byte("print('hello, world')\n"), 0o644)
	git("commit", "-qam", "second")
	// A link out of the repository.
	os.Symlink(os.TempDir(), filepath.Join(root, "outside"))
}

// connect connects a client of this SDK to the server of st: over the
// stdio protocol (newline-delimited JSON-RPC on a pair of pipes, the
// transport 'ami-audit mcp' runs on its standard input and output), or
// over streamable HTTP with the token of role.
func connect(t testing.TB, st *servetest.Trail, over, role string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, opts)
	var transport mcp.Transport
	switch over {
	case "stdio":
		cr, sw := io.Pipe()
		sr, cw := io.Pipe()
		srv := mcpserver.New(st.Service)
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.Run(sctx, &mcp.IOTransport{Reader: sr, Writer: sw})
		}()
		t.Cleanup(func() { cancel(); cw.Close(); <-done })
		transport = &mcp.IOTransport{Reader: cr, Writer: cw}
	case "http":
		ts := httptest.NewServer(mcpserver.Handler(st.Service, mcpserver.HTTPConfig{Tokens: st.Tokens}))
		t.Cleanup(ts.Close)
		hc := &http.Client{Transport: bearer{st.Token[role]}}
		transport = &mcp.StreamableClientTransport{Endpoint: ts.URL, HTTPClient: hc, MaxRetries: -1}
	}
	cs, err := client.Connect(ctx, transport, nil)
	if err != nil {
		t.Fatalf("connect over %s: %v", over, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.tok != "" {
		r.Header.Set("Authorization", "Bearer "+b.tok)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// call calls a tool and returns its structured result, failing the test
// on an error (unless wantErr, then it returns the error text).
func call(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any, wantErr bool) map[string]any {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if res.IsError != wantErr {
		t.Fatalf("%s(%v): IsError %v, want %v: %s", name, args, res.IsError, wantErr, text)
	}
	if wantErr {
		return map[string]any{"error": text}
	}
	b, _ := json.Marshal(res.StructuredContent)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: structured content %s: %v", name, b, err)
	}
	return out
}

func num(v any) int { f, _ := v.(float64); return int(f) }

// Every tool, over stdio and over HTTP.
func TestEveryTool(t *testing.T) {
	for _, over := range []string{"stdio", "http"} {
		t.Run(over, func(t *testing.T) {
			st := servetest.New(t)
			repo(t, st.Root)
			cs := connect(t, st, over, "admin", nil)
			ctx := context.Background()

			var names []string
			for tool, err := range cs.Tools(ctx, nil) {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, tool.Name)
				appends := strings.HasPrefix(tool.Name, "audit_")
				if tool.Annotations == nil || tool.Annotations.ReadOnlyHint == appends {
					t.Errorf("%s: annotations %+v (appends: %v)", tool.Name, tool.Annotations, appends)
				}
				if appends && !strings.Contains(tool.Description, "Appends records") {
					t.Errorf("%s does not say it appends", tool.Name)
				}
				in, _ := json.Marshal(tool.InputSchema)
				out, _ := json.Marshal(tool.OutputSchema)
				// Clients in other languages (the TypeScript SDK) refuse a
				// property schema that is not an object.
				var schema any
				json.Unmarshal(out, &schema)
				if p := boolSchema(schema, tool.Name); p != "" {
					t.Errorf("output schema of %s: %s is a boolean schema", tool.Name, p)
				}
				if !strings.Contains(string(in), `"type":"object"`) || !strings.Contains(string(out), `"type":"object"`) {
					t.Errorf("%s: schemas %s / %s", tool.Name, in, out)
				}
			}
			slices.Sort(names)
			want := []string{"audit_file", "audit_git", "audit_logs", "audit_module", "audit_services", "get_checkpoint", "prove_record", "query_audit_trail", "report", "verify_audit_chain"}
			if !slices.Equal(names, want) {
				t.Fatalf("tools %v, want %v", names, want)
			}

			r := call(t, cs, "audit_file", map[string]any{"file_path": "src", "include_git": true}, false)
			if num(r["records_appended"]) != 2 || r["target"] != "src" {
				t.Errorf("audit_file src: %v", r)
			}
			if r := call(t, cs, "audit_file", map[string]any{"file_path": "src"}, false); num(r["records_appended"]) != 0 {
				t.Errorf("audit_file again appended %v", r["records_appended"])
			}
			if r := call(t, cs, "audit_file", map[string]any{"file_path": "**/*.go"}, false); num(r["records_appended"]) != 1 {
				t.Errorf("audit_file glob: %v", r)
			}
			if r := call(t, cs, "audit_module", map[string]any{"module_name": "mod", "include_tests": true, "include_dependencies": true}, false); num(r["records_appended"]) < 1 {
				t.Errorf("audit_module: %v", r)
			}
			if r := call(t, cs, "audit_git", map[string]any{}, false); num(r["records_appended"]) < 2 {
				t.Errorf("audit_git: %v", r)
			}
			if r := call(t, cs, "audit_git", map[string]any{"target": "src/app.py", "since": "2000-01-01", "author": "Ann"}, false); !strings.Contains(fmt.Sprint(r["report"]), "src/app.py") {
				t.Errorf("audit_git of a file: %v", r)
			}
			if r := call(t, cs, "audit_logs", map[string]any{"log_dir": "logs", "level": "error", "since": "2025-01-01"}, false); num(r["records_appended"]) < 2 {
				t.Errorf("audit_logs: %v", r)
			}
			if r := call(t, cs, "audit_services", map[string]any{}, false); num(r["records_appended"]) != 2 {
				t.Errorf("audit_services: %v", r)
			}
			if r := call(t, cs, "audit_services", map[string]any{"service_name": "ok-svc"}, false); num(r["records_appended"]) != 0 {
				t.Errorf("audit_services ok-svc: %v", r)
			}
			v := call(t, cs, "verify_audit_chain", map[string]any{}, false)
			size := num(v["integrity"].(map[string]any)["size"])
			if v["ok"] != true || size < 10 {
				t.Errorf("verify_audit_chain: %v", v)
			}
			if q := call(t, cs, "query_audit_trail", map[string]any{"action": "git_commit", "user": "ann@example.com"}, false); num(q["count"]) != 2 {
				t.Errorf("query_audit_trail by user: %v", q)
			}
			q := call(t, cs, "query_audit_trail", map[string]any{"action": "file_hash", "since": "1 hour ago", "limit": 2}, false)
			recs, _ := q["records"].([]any)
			if num(q["count"]) != 2 || len(recs) != 2 || q["more"] != true {
				t.Errorf("query_audit_trail: %v", q)
			}
			q = call(t, cs, "query_audit_trail", map[string]any{"action": "file_hash"}, false)
			id := q["records"].([]any)[0].(map[string]any)["record_id"].(string)
			p := call(t, cs, "prove_record", map[string]any{"record_id": id}, false)
			pb, _ := json.Marshal(p)
			if c, err := trail.VerifyProof(pb, st.Trail.PublicKey()); err != nil || !c.OK {
				t.Errorf("prove_record: %v %v", c, err)
			}
			c := call(t, cs, "get_checkpoint", map[string]any{}, false)
			if num(c["size"]) != size || !strings.Contains(c["checkpoint"].(string), "\n— ") {
				t.Errorf("get_checkpoint: %v", c)
			}
			rep := call(t, cs, "report", map[string]any{"format": "markdown", "since": "2000-01-01", "framework": []string{"iso27001"}}, false)
			if integ, _ := rep["integrity"].(map[string]any); !strings.Contains(rep["content"].(string), "A.8.15") || num(rep["records"]) < 2 || integ == nil || integ["verified"] != true {
				t.Errorf("report: %v", rep)
			}
			// Errors are tool errors with a message.
			for tool, args := range map[string]map[string]any{
				"audit_file":        {"file_path": "nope.txt"},
				"audit_logs":        {"level": "loud"},
				"query_audit_trail": {"since": "someday"},
				"prove_record":      {"record_id": "not-a-uuid"},
				"report":            {"format": "pdf"},
				"audit_module":      {"module_name": "nomodule"},
				"audit_services":    {"service_name": "nope"},
			} {
				if e := call(t, cs, tool, args, true); e["error"] == "" {
					t.Errorf("%s: empty error", tool)
				}
			}
		})
	}
}

// Paths are confined to the repository: "..", absolute paths outside,
// symbolic links out are refused, and nothing is appended.
func TestPathsConfined(t *testing.T) {
	st := servetest.New(t)
	repo(t, st.Root)
	cs := connect(t, st, "stdio", "", nil)
	before, _ := st.Trail.Store().Head(context.Background())
	for tool, args := range map[string][]map[string]any{
		"audit_file":   {{"file_path": "../x"}, {"file_path": "src/../../x"}, {"file_path": "/etc/passwd"}, {"file_path": "outside"}, {"file_path": "outside/x"}, {"file_path": "../**/*.py"}},
		"audit_logs":   {{"log_dir": ".."}, {"log_dir": "/var/log"}, {"log_dir": "outside"}},
		"audit_git":    {{"target": "../.."}, {"target": "/"}, {"target": "outside"}},
		"audit_module": {{"module_name": "../mod"}, {"module_name": "/etc"}, {"module_name": "./outside"}},
	} {
		for _, a := range args {
			e := call(t, cs, tool, a, true)
			if !strings.Contains(e["error"].(string), "outside the repository") {
				t.Errorf("%s %v: %v", tool, a, e["error"])
			}
		}
	}
	after, _ := st.Trail.Store().Head(context.Background())
	if after.Size != before.Size {
		t.Errorf("refused paths appended %d records", after.Size-before.Size)
	}
}

// Over HTTP every request needs a token, and each tool a role that
// allows it.
func TestHTTPRoles(t *testing.T) {
	st := servetest.New(t)
	repo(t, st.Root)
	// No token, and tokens that do not authenticate: refused before MCP.
	ts := httptest.NewServer(mcpserver.Handler(st.Service, mcpserver.HTTPConfig{Tokens: st.Tokens}))
	defer ts.Close()
	for _, role := range []string{"", "expired", "revoked"} {
		client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
		_, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL, HTTPClient: &http.Client{Transport: bearer{st.Token[role]}}, MaxRetries: -1}, nil)
		if err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
			t.Errorf("token %q: %v", role, err)
		}
	}
	for role, allowed := range map[string][]string{
		"reader":   {"query_audit_trail", "get_checkpoint", "report"},
		"writer":   {"audit_file", "query_audit_trail"},
		"verifier": {"verify_audit_chain", "query_audit_trail"},
	} {
		cs := connect(t, st, "http", role, nil)
		for _, tool := range []string{"audit_file", "verify_audit_chain", "query_audit_trail"} {
			args := map[string]any{}
			if tool == "audit_file" {
				args["file_path"] = "src"
			}
			refused := !slices.Contains(allowed, tool)
			r := call(t, cs, tool, args, refused)
			if refused && !strings.Contains(r["error"].(string), "not allowed") {
				t.Errorf("%s calling %s: %v", role, tool, r["error"])
			}
		}
	}
}

// Long tools send progress notifications, and stop when cancelled.
func TestProgressAndCancel(t *testing.T) {
	st := servetest.New(t)
	repo(t, st.Root)
	var notes atomic.Int32
	cs := connect(t, st, "stdio", "", &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
		if req.Params.ProgressToken == "files-1" {
			notes.Add(1)
		}
	}})
	params := &mcp.CallToolParams{Name: "audit_file", Arguments: map[string]any{"file_path": "src"}}
	params.SetProgressToken("files-1")
	if _, err := cs.CallTool(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	if notes.Load() == 0 {
		t.Fatal("no progress notification")
	}

	// A service whose health check runs until it is stopped: the call can
	// end only by its cancellation, and the check's process only when the
	// server stops the run.
	pidFile := filepath.Join(t.TempDir(), "pid")
	manifest := fmt.Sprintf("version: 1\nservices:\n  slow-svc:\n    execution: {local: {enabled: true, kind: command, command: \"true\"}}\n    health: {command: {run: \"echo $$ > %s; exec sleep 60\", timeout: 120}}\n", pidFile)
	if err := os.WriteFile(filepath.Join(st.Root, "scripts/config/services.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pid int
	go func() {
		defer cancel()
		for range 200 {
			if b, err := os.ReadFile(pidFile); err == nil && len(b) > 1 {
				fmt.Sscan(string(b), &pid)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	start := time.Now()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "audit_services", Arguments: map[string]any{"service_name": "slow-svc"}}); err == nil {
		t.Fatal("a cancelled call succeeded")
	}
	if pid == 0 {
		t.Fatal("the health check never started")
	}
	// The server stops the run: the check's process is killed.
	for syscall.Kill(pid, 0) == nil {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the health check (pid %d) still runs: the server did not stop the cancelled run", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The session still answers.
	call(t, cs, "query_audit_trail", map[string]any{"action": "file_hash"}, false)
}

// boolSchema returns the path of a property whose schema is a boolean.
func boolSchema(s any, path string) string {
	m, ok := s.(map[string]any)
	if !ok {
		return ""
	}
	props, _ := m["properties"].(map[string]any)
	for name, p := range props {
		if _, isBool := p.(bool); isBool {
			return path + "." + name
		}
		if q := boolSchema(p, path+"."+name); q != "" {
			return q
		}
	}
	return boolSchema(m["items"], path+"[]")
}
