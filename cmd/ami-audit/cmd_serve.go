package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/httpapi"
	"github.com/ami-orchestrator/ami-audit/serve/mcpserver"
	"github.com/ami-orchestrator/ami-audit/serve/token"
)

// listenFlags are the flags of the commands that listen on a network
// address.
type listenFlags struct {
	tlsCert, tlsKey string
	insecure        bool
	repo            string
	maxBody         int64
	rate            float64
	burst           int
}

func (f *listenFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "… and this private key (PEM, mode 0600)")
	fl.BoolVar(&f.insecure, "insecure", false, "allow plain HTTP on an address other than loopback (tokens then cross the network in clear)")
	fl.StringVar(&f.repo, "repo", "", "the repository served: tools' paths must be inside it (default: the repository holding the current directory)")
	fl.Int64Var(&f.maxBody, "max-body", httpapi.DefaultMaxBody, "largest request body accepted, in bytes")
	fl.Float64Var(&f.rate, "rate", httpapi.DefaultRate, "requests per second allowed to each token (negative: no limit)")
	fl.IntVar(&f.burst, "burst", httpapi.DefaultBurst, "requests a token may make at once above its rate")
}

// check refuses what would expose tokens: plain HTTP on a non-loopback
// address without --insecure, half a TLS configuration.
func (f *listenFlags) check(addr string) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--listen %q: %v (want HOST:PORT, e.g. 127.0.0.1:8780)", addr, err)
	}
	if f.tlsCert == "" && !f.insecure && !loopback(host) {
		return withHint(usagef("refusing to serve plain HTTP on %s: bearer tokens would cross the network in clear", addr),
			"give --tls-cert and --tls-key, listen on 127.0.0.1, or say --insecure")
	}
	if f.tlsKey != "" {
		fi, err := os.Stat(f.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return withHint(fmt.Errorf("%s is readable by group or others (mode %04o)", f.tlsKey, fi.Mode().Perm()), "run: chmod 600 "+f.tlsKey)
		}
	}
	return nil
}

// loopback reports whether host names only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// service opens the trail for appending and the tokens, and returns the
// served layer over them.
func (a *App) service(ctx context.Context, repo string) (*serve.Service, *token.Set, error) {
	t, err := a.openTrail(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	d, err := a.secretDetector()
	if err != nil {
		return nil, nil, err
	}
	if repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, nil, err
		}
		repo = repositoryRoot(wd)
	}
	svc, err := serve.New(serve.Config{Trail: t, Detector: d, Root: repo, EngineHosts: engineHosts(nil)})
	if err != nil {
		return nil, nil, usageError{err}
	}
	tokens, err := token.Open(a.auditDir)
	if err != nil {
		return nil, nil, err
	}
	return svc, tokens, nil
}

// listen serves h on addr until ctx ends, then shuts down: requests in
// flight finish (live feeds end), within a grace period.
func (a *App) listen(ctx context.Context, addr string, f listenFlags, h http.Handler, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(slog.NewTextHandler(a.stderr, nil).WithAttrs([]slog.Attr{slog.String("server", what)}), slog.LevelWarn),
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	a.notice("%s listening on %s://%s (stop with Ctrl-C)", what, scheme, ln.Addr())
	done := make(chan error, 1)
	go func() {
		if f.tlsCert != "" {
			done <- srv.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	cancel() // ends live feeds
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	err = srv.Shutdown(sctx)
	<-done
	a.notice("%s stopped", what)
	return err
}

func (a *App) serveCommand() *cobra.Command {
	var f listenFlags
	var addr string
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API: append, query, verify, prove, checkpoint, live feed",
		Long: `Serve the trail over HTTP (the routes are documented at /openapi.json):

  POST /v1/records              append one JSON object, or JSON lines atomically
  GET  /v1/records?actor=…      query with every filter, paged with next_cursor
  GET  /v1/records/{id}         one record
  GET  /v1/records/{id}/proof   inclusion proof in the latest signed checkpoint
  GET  /v1/proofs/consistency   consistency proof from an older size
  GET  /v1/checkpoint           the latest signed checkpoint
  POST /v1/verify               verify the chain, a range, a record, checkpoints
  GET  /v1/feed                 records as they are appended (server-sent events)
  GET  /v1/health

Every request needs a bearer token of 'ami-audit token create'; its role
(reader, writer, verifier, admin) decides what it may do, and every record
appended carries metadata.caller (the token's id, name and role)
beside the actor it claims. Each token is rate limited; bodies are limited
to --max-body.

The server holds the trail open for appending (it signs tree heads with
the log key) until it is stopped (SIGINT, SIGTERM), and then remembers the
last signed head. It listens on loopback unless told otherwise, and refuses
plain HTTP on another address unless given --tls-cert/--tls-key or
--insecure.`,
		Example: `  ami-audit token create --role writer --name ci
  ami-audit serve --listen 127.0.0.1:8780
  curl -H "Authorization: Bearer $TOKEN" --data-binary @records.jsonl http://127.0.0.1:8780/v1/records
  ami-audit serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(addr); err != nil {
				return err
			}
			ctx := cmd.Context()
			svc, tokens, err := a.service(ctx, f.repo)
			if err != nil {
				return err
			}
			a.warnNoTokens(tokens)
			api := httpapi.New(httpapi.Config{Service: svc, Tokens: tokens, MaxBody: f.maxBody, Rate: f.rate, Burst: f.burst,
				FeedPoll: poll, Logger: slog.New(slog.NewTextHandler(a.stderr, nil))})
			return a.listen(ctx, addr, f, api, "ami-audit HTTP API of "+svc.Trail().Identity().Origin)
		},
	}
	cmd.Flags().StringVar(&addr, "listen", "127.0.0.1:8780", "address to listen on, HOST:PORT")
	cmd.Flags().DurationVar(&poll, "feed-poll", httpapi.DefaultFeedPoll, "how often the live feed reads the store when no cache announces appends")
	f.register(cmd)
	return cmd
}

func (a *App) warnNoTokens(tokens *token.Set) {
	list, err := tokens.List()
	if err != nil {
		return
	}
	active := 0
	for _, e := range list {
		if e.Active(time.Now()) {
			active++
		}
	}
	if active == 0 {
		a.notice("warning: no active token in %s: every request will be refused; create one with 'ami-audit token create --role writer --name NAME'", tokens.Path())
	}
}

func (a *App) mcpCommand() *cobra.Command {
	var f listenFlags
	var addr string
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the MCP tools, over stdio (for an agent's tool configuration) or streamable HTTP",
		Long: `Serve ami-audit's MCP tools: audit_file, audit_module, audit_git,
audit_logs, audit_services (these append records), verify_audit_chain,
query_audit_trail, prove_record, get_checkpoint and report.

By default the server speaks MCP over standard input and output, as an
agent's tool configuration starts it ({"command": "ami-audit", "args":
["mcp"]}); the caller is the local user. With --http ADDR it serves
streamable HTTP at /mcp instead, where every request needs a bearer token
of 'ami-audit token create' and the token's role decides which tools it may
call (writer: the audit_* tools; verifier: verify_audit_chain; reader: the
rest).

Paths given to tools are relative to the repository the server was started
in (--repo) and confined to it: ".." and symbolic links leading out are
refused. Long tools send progress notifications and stop when cancelled.`,
		Example: `  ami-audit mcp
  ami-audit mcp --http 127.0.0.1:8790`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr != "" {
				if err := f.check(addr); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			// Over stdio, standard output is the protocol's: nothing else
			// may be written there.
			svc, tokens, err := a.service(ctx, f.repo)
			if err != nil {
				return err
			}
			if addr == "" {
				return mcpserver.Serve(ctx, svc)
			}
			a.warnNoTokens(tokens)
			mux := http.NewServeMux()
			mux.Handle("/mcp", mcpserver.Handler(svc, mcpserver.HTTPConfig{Tokens: tokens, MaxBody: f.maxBody}))
			return a.listen(ctx, addr, f, mux, "ami-audit MCP server of "+svc.Trail().Identity().Origin+" (streamable HTTP at /mcp)")
		},
	}
	cmd.Flags().StringVar(&addr, "http", "", "serve streamable HTTP on HOST:PORT instead of stdio")
	f.register(cmd)
	cmd.Flags().MarkHidden("rate")
	cmd.Flags().MarkHidden("burst")
	return cmd
}

func (a *App) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the API tokens of 'serve' and 'mcp --http'",
		Long: `API tokens authenticate the requests of the HTTP API and of the MCP server
over HTTP. A token is shown once, when it is created; the trail's directory
keeps only its SHA-256 hash (tokens.json, mode 0600), never the store or the
trail's records. Roles: reader (read records, query, checkpoints, proofs,
the live feed), writer (reader, and append records and run collections),
verifier (reader, and verify the trail), admin (everything).`,
	}
	var role, name, expires string
	create := &cobra.Command{
		Use:   "create --role ROLE --name NAME",
		Short: "Create a token and print it (once)",
		Example: `  ami-audit token create --role writer --name ci
  ami-audit token create --role reader --name dashboard --expires "90 days"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := token.ParseRole(role)
			if err != nil {
				return withHint(usageError{err}, "--role reader, writer, verifier or admin")
			}
			if name == "" {
				return usagef("--name is required: who or what uses the token (it is recorded with every append)")
			}
			var ttl time.Duration
			if expires != "" {
				ttl = expiry(expires, time.Now())
				if ttl <= 0 {
					return withHint(usagef("--expires %q: want a duration such as \"90 days\" or a future date", expires), "--expires \"30 days\"")
				}
			}
			if _, err := a.openExisting(cmd.Context()); err != nil {
				return err
			}
			set, err := token.Open(a.auditDir)
			if err != nil {
				return err
			}
			tok, e, err := set.Create(token.CreateOptions{Name: name, Role: r, TTL: ttl})
			if err != nil {
				return usageError{err}
			}
			fmt.Fprintln(a.stdout, tok)
			exp := "never expires"
			if !e.Expires.IsZero() {
				exp = "expires " + e.Expires.Format(time.RFC3339)
			}
			a.notice("created token %s (%s, role %s, %s); it is shown only now: keep it secret", e.ID, e.Name, e.Role, exp)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "", "reader, writer, verifier or admin")
	create.Flags().StringVar(&name, "name", "", "who or what uses the token, e.g. ci")
	create.Flags().StringVar(&expires, "expires", "", "expire after this long (\"90 days\", \"12h\") or at this date (default: never)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := token.Open(a.auditDir)
			if err != nil {
				return err
			}
			entries, err := set.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tSTATE")
			now := time.Now()
			for _, e := range entries {
				exp, state := "never", "active"
				if !e.Expires.IsZero() {
					exp = e.Expires.Format(time.RFC3339)
				}
				switch {
				case !e.Revoked.IsZero():
					state = "revoked " + e.Revoked.Format(time.RFC3339)
				case !e.Active(now):
					state = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, oneLine(e.Name), e.Role, e.Created.Format(time.RFC3339), exp, state)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			a.notice("%s", plural.Count(len(entries), "token"))
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke a token: the servers refuse it within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := token.Open(a.auditDir)
			if err != nil {
				return err
			}
			e, err := set.Revoke(args[0])
			if err != nil {
				if strings.HasPrefix(err.Error(), "no token") {
					return withHint(usageError{err}, "ami-audit token list")
				}
				return usageError{err}
			}
			a.notice("revoked token %s (%s, role %s)", e.ID, e.Name, e.Role)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// expiry reads --expires: a length of time ("90 days", "12h") or a future
// date; 0 when it is neither.
func expiry(s string, now time.Time) time.Duration {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "now", "today", "yesterday":
		return 0
	}
	if t, err := datespec.Parse(s, now); err == nil {
		if t.After(now) {
			return t.Sub(now) // a date
		}
		if strings.HasSuffix(strings.TrimSpace(s), "ago") {
			return 0
		}
		return now.Sub(t) // "7d" reads as 7 days ago: 7 days
	}
	if t, err := datespec.Parse(s+" ago", now); err == nil {
		return now.Sub(t)
	}
	return 0
}
