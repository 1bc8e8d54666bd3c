package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ami-orchestrator/ami-audit/serve/token"
)

// newServedRepo makes a repository with a trail in it.
func newServedRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("served\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := amiIn(dir, nil, "", "init"); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	return dir
}

// Tokens are shown once, kept as hashes (0600), listed without their
// secrets, revoked by name or id; bad roles and names are usage errors.
func TestTokenCommand(t *testing.T) {
	dir := newServedRepo(t)
	tok, err := amiIn(dir, nil, "", "token", "create", "--role", "writer", "--name", "ci", "--expires", "30 days")
	if err != nil {
		t.Fatal(err)
	}
	tok = strings.TrimSpace(tok)
	if !regexp.MustCompile(`^amiat_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Fatalf("token %q", tok)
	}
	file := filepath.Join(dir, ".audit", token.File)
	b, _ := os.ReadFile(file)
	secret := tok[len("amiat_")+12+1:] // amiat_<id>_<secret>: the secret may hold "_" too
	if strings.Contains(string(b), secret) {
		t.Error("tokens.json holds the secret")
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens.json: %v %v", fi.Mode(), err)
	}
	list, err := amiIn(dir, nil, "", "token", "list")
	if err != nil || !strings.Contains(list, "ci") || !strings.Contains(list, "writer") || strings.Contains(list, secret) {
		t.Errorf("list: %v\n%s", err, list)
	}
	// Nothing of the token enters the store.
	db, _ := os.ReadFile(filepath.Join(dir, ".audit", "audit.db"))
	if strings.Contains(string(db), secret) || strings.Contains(string(db), tok[:18]) {
		t.Error("the store holds the token")
	}
	for _, args := range [][]string{
		{"token", "create", "--role", "root", "--name", "x"},
		{"token", "create", "--role", "reader"},
		{"token", "create", "--role", "reader", "--name", "ci"}, // an active ci exists
		{"token", "create", "--role", "reader", "--name", "y", "--expires", "yesterday"},
		{"token", "revoke", "nobody"},
	} {
		cmd := exec.Command("ami-audit", args...)
		cmd.Dir = dir
		if err := cmd.Run(); exitCode(err) != exitUsage {
			t.Errorf("%v: %v, want exit %d", args, err, exitUsage)
		}
	}
	if _, err := amiIn(dir, nil, "", "token", "revoke", "ci"); err != nil {
		t.Fatal(err)
	}
	if list, _ := amiIn(dir, nil, "", "token", "list"); !strings.Contains(list, "revoked") {
		t.Errorf("after revoke: %s", list)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// serve refuses what would expose tokens before it opens anything.
func TestServeRefusesPlainHTTPOutsideLoopback(t *testing.T) {
	dir := newServedRepo(t)
	for _, args := range [][]string{
		{"serve", "--listen", "0.0.0.0:8780"},
		{"serve", "--listen", ":8780"},
		{"mcp", "--http", "192.0.2.1:8790"},
		{"serve", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem"},
		{"serve", "--listen", "nonsense"},
	} {
		var stderr strings.Builder
		cmd := exec.Command("ami-audit", args...)
		cmd.Dir, cmd.Stderr = dir, &stderr
		if err := cmd.Run(); exitCode(err) != exitUsage {
			t.Errorf("%v: %v %s, want exit %d", args, err, stderr.String(), exitUsage)
		}
	}
}

// serve appends as its tokens allow, and on SIGTERM stops, closing the
// trail: the last signed head it saw is remembered.
func TestServeLifecycle(t *testing.T) {
	dir := newServedRepo(t)
	tok, err := amiIn(dir, nil, "", "token", "create", "--role", "writer", "--name", "ci")
	if err != nil {
		t.Fatal(err)
	}
	tok = strings.TrimSpace(tok)
	cmd := exec.Command("ami-audit", "serve", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	br := bufio.NewReader(stderr)
	line, err := br.ReadString('\n')
	m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("serve said %q (%v)", line, err)
	}
	go io.Copy(io.Discard, br)
	url := m[1]
	for i := range 3 {
		req, _ := http.NewRequest("POST", url+"/v1/records", strings.NewReader(fmt.Sprintf(`{"actor":"ci","action":"deploy","target":"svc/%d","target_type":"service"}`, i)))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("append: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	latest, err := os.ReadFile(filepath.Join(dir, ".audit", "latest-checkpoint"))
	if err != nil || !strings.Contains(string(latest), "\n3\n") {
		t.Errorf("latest-checkpoint after serve: %v %q", err, latest)
	}
	if out, err := amiIn(dir, nil, "", "verify"); err != nil {
		t.Errorf("verify: %v %s", err, out)
	}
}

// 'ami-audit mcp' speaks MCP on its standard input and output: a client of
// the SDK starts it as an agent would, lists the tools and calls them.
func TestMCPStdioCommand(t *testing.T) {
	dir := newServedRepo(t)
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cmd := exec.Command("ami-audit", "mcp")
	cmd.Dir = dir
	cs, err := client.Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	n := 0
	for _, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 10 {
		t.Errorf("%d tools, want 10", n)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "audit_file", Arguments: map[string]any{"file_path": "README.md"}})
	if err != nil || res.IsError {
		t.Fatalf("audit_file: %v %+v", err, res)
	}
	res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "verify_audit_chain", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("verify_audit_chain: %v %+v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(b), `"ok":true`) {
		t.Errorf("verify_audit_chain: %s", b)
	}
}

// The official MCP Inspector, in CLI mode, lists the tools of the built
// command and calls two of them. It is installed by
// scripts/install-mcp-inspector.sh; without it the test skips, unless
// AMI_AUDIT_REQUIRE_MCP_INSPECTOR=1 (as CI sets).
func TestMCPInspector(t *testing.T) {
	dir := os.Getenv("AMI_AUDIT_MCP_INSPECTOR_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "ami-audit", "mcp-inspector")
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	node := filepath.Join(dir, "node_modules", "node-linux-"+arch, "bin", "node")
	cli := filepath.Join(dir, "node_modules", "@modelcontextprotocol", "inspector", "cli", "build", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		msg := "the MCP Inspector is not installed in " + dir + ": run scripts/install-mcp-inspector.sh"
		if os.Getenv("AMI_AUDIT_REQUIRE_MCP_INSPECTOR") == "1" {
			t.Fatal(msg + " (AMI_AUDIT_REQUIRE_MCP_INSPECTOR=1)")
		}
		t.Skip(msg)
	}
	repo := newServedRepo(t)
	self, err := exec.LookPath("ami-audit")
	if err != nil {
		t.Fatal(err)
	}
	inspect := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, append([]string{cli, "--cli", self, "mcp"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("inspector %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	list := inspect("--method", "tools/list")
	for _, name := range []string{"audit_file", "audit_module", "audit_git", "audit_logs", "audit_services", "verify_audit_chain", "query_audit_trail", "prove_record", "get_checkpoint", "report"} {
		if !strings.Contains(list, `"name": "`+name+`"`) {
			t.Errorf("tools/list lacks %s", name)
		}
	}
	var res struct {
		IsError           bool           `json:"isError"`
		StructuredContent map[string]any `json:"structuredContent"`
	}
	out := inspect("--method", "tools/call", "--tool-name", "audit_file", "--tool-arg", "file_path=README.md")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.IsError || res.StructuredContent["records_appended"] != float64(1) {
		t.Errorf("audit_file: %v %s", err, out)
	}
	out = inspect("--method", "tools/call", "--tool-name", "query_audit_trail", "--tool-arg", "action=file_hash")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.IsError || res.StructuredContent["count"] != float64(1) {
		t.Errorf("query_audit_trail: %v %s", err, out)
	}
}
