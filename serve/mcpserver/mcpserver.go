// Package mcpserver is ami-audit's MCP server: the seven tools of the
// specification (audit_file, audit_module, audit_git, audit_logs,
// audit_services, verify_audit_chain, query_audit_trail) and those a
// ledger needs beside them (prove_record, get_checkpoint, report), over
// stdio or streamable HTTP, built with the official Go SDK.
//
// Each tool has a JSON schema for its input and returns a structured JSON
// result; a failure is a tool error with a message saying what to do.
// Tools that append records say so (annotations: not read-only); every
// path a tool is given is confined to the repository the server was
// started in; long tools report progress (notifications/progress, when
// the client sent a progress token) and stop when the client cancels.
// Over HTTP every request carries a bearer token (serve/token) and each
// tool needs a role that allows it. The tools call the same library
// functions as the command line (collect, trail) through serve.Service.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/internal/version"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/token"
)

// Local is the identity of the client of a stdio server: the user who
// started the process, with every permission.
var Local = token.Identity{ID: "stdio", Name: "stdio", Role: token.Admin}

// New returns the MCP server of svc with every tool.
func New(svc *serve.Service) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "ami-audit", Title: "ami-audit: a tamper-evident audit trail", Version: version.Read().String()},
		&mcp.ServerOptions{Instructions: instructions})
	t := &tools{svc: svc}
	t.register(s)
	return s
}

const instructions = `ami-audit keeps a tamper-evident audit trail of this repository. The audit_* tools collect records (they append to the trail; re-running on unchanged input appends nothing); query_audit_trail, prove_record, get_checkpoint and report read it; verify_audit_chain checks it. Paths are relative to the repository the server was started in.`

// Serve runs the server over stdio until the client disconnects or ctx
// ends.
func Serve(ctx context.Context, svc *serve.Service) error {
	err := New(svc).Run(ctx, &mcp.StdioTransport{})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// HTTPConfig configures the streamable HTTP handler.
type HTTPConfig struct {
	Tokens *token.Set
	// MaxBody limits request bodies (0: the SDK's default).
	MaxBody int64
}

// Handler serves the MCP server over streamable HTTP: every request must
// carry a bearer token of tokens; the token's identity decides what each
// tool may do.
func Handler(svc *serve.Service, cfg HTTPConfig) http.Handler {
	srv := New(svc)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{MaxRequestBodyBytes: cfg.MaxBody})
	verify := func(_ context.Context, tok string, _ *http.Request) (*auth.TokenInfo, error) {
		who, err := cfg.Tokens.Authenticate(tok)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
		}
		return &auth.TokenInfo{UserID: who.ID, Scopes: []string{string(who.Role)},
			Extra: map[string]any{"name": who.Name, "role": string(who.Role)}}, nil
	}
	return auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
}

// caller is who makes a tool call: the token of an HTTP request, or the
// local user over stdio.
func caller(req *mcp.CallToolRequest) token.Identity {
	if req.Extra == nil || req.Extra.TokenInfo == nil {
		return Local
	}
	ti := req.Extra.TokenInfo
	name, _ := ti.Extra["name"].(string)
	role, _ := ti.Extra["role"].(string)
	return token.Identity{ID: ti.UserID, Name: name, Role: token.Role(role)}
}

// toolError is the error a tool returns: the message, and the hint when
// there is one.
func toolError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if h, ok := usererr.HintOf(err); ok {
		msg += " (hint: " + h + ")"
	}
	if errors.Is(err, context.Canceled) {
		msg = "cancelled: " + msg
	}
	return errors.New(msg)
}

// progress sends notifications/progress for a tool call that asked for
// them (a progress token), at most every interval; the returned function
// counts work done.
func progress(ctx context.Context, req *mcp.CallToolRequest, unit string) (add func(int64), done func()) {
	tok := req.Params.GetProgressToken()
	if tok == nil || req.Session == nil {
		return func(int64) {}, func() {}
	}
	var mu sync.Mutex
	var n int64
	var last time.Time
	send := func(force bool) {
		mu.Lock()
		defer mu.Unlock()
		if !force && time.Since(last) < progressInterval {
			return
		}
		last = time.Now()
		req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(n),
			Message: fmt.Sprintf("%d %s", n, unit)})
	}
	return func(k int64) {
			mu.Lock()
			n += k
			mu.Unlock()
			send(false)
		}, func() {
			send(true)
		}
}

// progressInterval is the least time between two progress notifications.
var progressInterval = 200 * time.Millisecond
