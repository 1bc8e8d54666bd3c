package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/filterspec"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report/formats"
	"github.com/ami-orchestrator/ami-audit/report/trailreport"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/token"
	"github.com/ami-orchestrator/ami-audit/source/file"
	"github.com/ami-orchestrator/ami-audit/source/git"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/service"
	"github.com/ami-orchestrator/ami-audit/trail"
)

type tools struct {
	svc *serve.Service
}

// Names of the tools, as the specification names them.
const (
	ToolFile       = "audit_file"
	ToolModule     = "audit_module"
	ToolGit        = "audit_git"
	ToolLogs       = "audit_logs"
	ToolServices   = "audit_services"
	ToolVerify     = "verify_audit_chain"
	ToolQuery      = "query_audit_trail"
	ToolProve      = "prove_record"
	ToolCheckpoint = "get_checkpoint"
	ToolReport     = "report"
)

func ptr[T any](v T) *T { return &v }

// appends annotates a tool that appends records: additive (it never
// changes or removes a record), idempotent (a re-run on unchanged input
// appends nothing), in the closed world of the repository and its trail.
func appends(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)}
}

// reads annotates a read-only tool.
func reads(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, OpenWorldHint: ptr(false)}
}

const appendsNote = " Appends records to the audit trail (only what changed since the last run)."

func (t *tools) register(s *mcp.Server) {
	mcp.AddTool(s, &mcp.Tool{Name: ToolFile, Annotations: appends("Audit files"),
		Description: "Record the SHA-256, size, mode, owner and times of a file, of every file under a directory, or of the files a glob matches (\"src/**/*.py\"), and report on them." + appendsNote},
		t.auditFile)
	mcp.AddTool(s, &mcp.Tool{Name: ToolModule, Annotations: appends("Audit a module"),
		Description: "Audit a module of the repository (a submodule, or a directory with pyproject.toml, package.json or go.mod): code metrics, tests, coverage, dependencies, imports; one module_audit record." + appendsNote},
		t.auditModule)
	mcp.AddTool(s, &mcp.Tool{Name: ToolGit, Annotations: appends("Audit git history"),
		Description: "Record the git history of the repository (or of one file of it): one git_commit record per commit, authors, branches and tags, and report on the commits selected." + appendsNote},
		t.auditGit)
	mcp.AddTool(s, &mcp.Tool{Name: ToolLogs, Annotations: appends("Audit logs"),
		Description: "Read the log files of a directory (JSON lines, logfmt, plain text; gzip and bzip2 rotations): per-file summaries, error patterns, error bursts." + appendsNote},
		t.auditLogs)
	mcp.AddTool(s, &mcp.Tool{Name: ToolServices, Annotations: appends("Audit services"),
		Description: "Check the services of the repository's launcher manifest (or one of them): health checks, containers, processes; one service_state record per change of state." + appendsNote},
		t.auditServices)
	mcp.AddTool(s, &mcp.Tool{Name: ToolVerify, Annotations: reads("Verify the audit chain"),
		Description: "Verify the whole audit trail: every record's hash and link, the Merkle tree and the signed tree heads, and that the log extends the last signed head seen. Names the first record that fails and why."},
		t.verifyChain)
	mcp.AddTool(s, &mcp.Tool{Name: ToolQuery, Annotations: reads("Query the audit trail"),
		Description: "Find records of the audit trail by action, user (actor) and time, oldest first."},
		t.query)
	mcp.AddTool(s, &mcp.Tool{Name: ToolProve, Annotations: reads("Prove a record"),
		Description: "An inclusion proof that a record is in the log's latest signed checkpoint, which anyone can check offline with the log's public key (ami-audit verify --proof FILE --key log.pub)."},
		t.prove)
	mcp.AddTool(s, &mcp.Tool{Name: ToolCheckpoint, Annotations: reads("Get the checkpoint"),
		Description: "The log's latest signed checkpoint (C2SP signed note of its size and root), after a full verification. Keep it outside the operator's reach: it anchors later verifications."},
		t.checkpoint)
	mcp.AddTool(s, &mcp.Tool{Name: ToolReport, Annotations: reads("Report on the trail"),
		Description: "The report of the stored trail for a period (ami-audit report): the trail's verified integrity first, what was recorded, the analyzers' open findings and the compliance assessment of the frameworks asked for, rendered as markdown, json, yaml, csv, html, terminal text or OSCAL."},
		t.report)
}

// TrailState is the state of the trail after a tool ran.
type TrailState struct {
	Origin string `json:"origin"`
	LogID  string `json:"log_id"`
	Size   uint64 `json:"size" jsonschema:"the number of records in the trail"`
}

func (t *tools) state(ctx context.Context) TrailState {
	tr := t.svc.Trail()
	id := tr.Identity()
	st := TrailState{Origin: id.Origin, LogID: id.LogID}
	if h, err := tr.Store().Head(ctx); err == nil {
		st.Size = h.Size
	}
	return st
}

// CollectionResult is what a collecting tool returns.
type CollectionResult struct {
	Target   string         `json:"target" jsonschema:"what was audited, relative to the repository"`
	Appended int            `json:"records_appended" jsonschema:"records appended by this run (0 when nothing changed)"`
	Trail    TrailState     `json:"trail"`
	Report   map[string]any `json:"report" jsonschema:"the run's report: title, summary figures, sections (tables), warnings"`
}

func (t *tools) allow(req *mcp.CallToolRequest, p token.Permission) error {
	return serve.Allow(caller(req), p)
}

func (t *tools) collected(ctx context.Context, target string, res *collect.Result, err error) (*mcp.CallToolResult, CollectionResult, error) {
	if err != nil {
		if res != nil && res.Appended > 0 {
			err = fmt.Errorf("%w (%d records were appended before the failure; they stay in the trail)", err, res.Appended)
		}
		return nil, CollectionResult{}, toolError(err)
	}
	return nil, CollectionResult{Target: target, Appended: res.Appended, Trail: t.state(ctx), Report: object(res.Report)}, nil
}

// FileInput is the input of audit_file.
type FileInput struct {
	FilePath   string `json:"file_path" jsonschema:"a file, a directory or a glob (** crosses directories), relative to the repository"`
	IncludeGit bool   `json:"include_git,omitempty" jsonschema:"add the last commit (hash, author, date) that touched each file"`
}

func (t *tools) auditFile(ctx context.Context, req *mcp.CallToolRequest, in FileInput) (*mcp.CallToolResult, CollectionResult, error) {
	if err := t.allow(req, token.Append); err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	if in.FilePath == "" {
		return nil, CollectionResult{}, toolError(usererr.Usagef("file_path is required"))
	}
	pattern := strings.ContainsAny(in.FilePath, "*?[{")
	static := in.FilePath
	if pattern {
		static = staticPrefix(in.FilePath)
	}
	abs, rel, err := t.svc.Confine(static)
	if err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	target := abs
	if pattern {
		target = filepath.Join(abs, strings.TrimPrefix(filepath.ToSlash(in.FilePath), strings.TrimSuffix(filepath.ToSlash(static), "/")))
		rel = in.FilePath
	}
	add, done := progress(ctx, req, "files")
	res, err := collect.Files(ctx, t.svc.Env(), collect.FilesRequest{Target: target, Rows: 200, Progress: add,
		Config: file.Config{Root: t.svc.Root(), Pattern: pattern, IncludeGit: in.IncludeGit}})
	done()
	return t.collected(ctx, rel, res, err)
}

// staticPrefix is the directory part of a glob before its first
// metacharacter.
func staticPrefix(glob string) string {
	i := strings.IndexAny(glob, "*?[{")
	dir := filepath.Dir(glob[:i] + "x")
	if dir == "" {
		return "."
	}
	return dir
}

// ModuleInput is the input of audit_module.
type ModuleInput struct {
	ModuleName          string `json:"module_name" jsonschema:"the module: its path (domains/marketing), its last element when unambiguous, or a directory of the repository"`
	IncludeTests        bool   `json:"include_tests,omitempty" jsonschema:"count test files and tests"`
	IncludeDependencies bool   `json:"include_dependencies,omitempty" jsonschema:"read manifests and lock files; record dependency changes"`
}

func (t *tools) auditModule(ctx context.Context, req *mcp.CallToolRequest, in ModuleInput) (*mcp.CallToolResult, CollectionResult, error) {
	if err := t.allow(req, token.Append); err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	if in.ModuleName == "" {
		return nil, CollectionResult{}, toolError(usererr.Usagef("module_name is required"))
	}
	name := in.ModuleName
	// A name that is a path is confined like any path; a module's name
	// is looked up among the repository's modules.
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		abs, _, err := t.svc.Confine(name)
		if err != nil {
			return nil, CollectionResult{}, toolError(err)
		}
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			name = abs
		}
	}
	add, done := progress(ctx, req, "modules")
	res, err := collect.Modules(ctx, t.svc.Env(), collect.ModulesRequest{Name: name, Progress: add,
		Config: module.Config{Root: t.svc.Root(), IncludeTests: in.IncludeTests, IncludeDependencies: in.IncludeDependencies}})
	done()
	return t.collected(ctx, in.ModuleName, res, err)
}

// GitInput is the input of audit_git.
type GitInput struct {
	Target string `json:"target,omitempty" jsonschema:"the repository (default), a directory of a submodule, or a file whose history to audit, relative to the repository"`
	Since  string `json:"since,omitempty" jsonschema:"only commits at or after this date: 2024-01-31, RFC 3339, or '30 days ago'"`
	Author string `json:"author,omitempty" jsonschema:"only commits whose author name or e-mail matches (a regular expression)"`
}

func (t *tools) auditGit(ctx context.Context, req *mcp.CallToolRequest, in GitInput) (*mcp.CallToolResult, CollectionResult, error) {
	if err := t.allow(req, token.Append); err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	abs, rel, err := t.svc.Confine(in.Target)
	if err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	cfg := git.Config{Author: in.Author}
	if in.Since != "" {
		if cfg.Since, err = datespec.Parse(in.Since, time.Now()); err != nil {
			return nil, CollectionResult{}, toolError(usererr.Usagef("since: %v", err))
		}
	}
	dir := abs
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		// A file: the history of that file, in the repository holding it.
		top, err := collect.GitToplevel(ctx, filepath.Dir(abs))
		if err != nil {
			return nil, CollectionResult{}, toolError(err)
		}
		if top, err = filepath.EvalSymlinks(top); err != nil {
			return nil, CollectionResult{}, toolError(err)
		}
		f, err := filepath.Rel(top, abs)
		if err != nil {
			return nil, CollectionResult{}, toolError(err)
		}
		dir, cfg.File = top, filepath.ToSlash(f)
	}
	add, done := progress(ctx, req, "commits")
	res, err := collect.Git(ctx, t.svc.Env(), collect.GitRequest{Dir: dir, Config: cfg, Progress: add})
	done()
	return t.collected(ctx, rel, res, err)
}

// LogsInput is the input of audit_logs.
type LogsInput struct {
	LogDir string `json:"log_dir,omitempty" jsonschema:"the log directory or file, relative to the repository (default logs)"`
	Level  string `json:"level,omitempty" jsonschema:"least level aggregated into patterns: debug, info, warning (default), error, critical"`
	Since  string `json:"since,omitempty" jsonschema:"only entries at or after this time: an ISO date, RFC 3339, or '1 hour ago'"`
}

func (t *tools) auditLogs(ctx context.Context, req *mcp.CallToolRequest, in LogsInput) (*mcp.CallToolResult, CollectionResult, error) {
	if err := t.allow(req, token.Append); err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	dir := in.LogDir
	if dir == "" {
		dir = "logs"
	}
	abs, rel, err := t.svc.Confine(dir)
	if err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	cfg := logsource.Config{Root: t.svc.Root()}
	if in.Level != "" {
		if cfg.Level, err = audit.ParseSeverity(in.Level); err != nil {
			return nil, CollectionResult{}, toolError(usererr.Usagef("level: %v", err))
		}
	}
	if in.Since != "" {
		if cfg.Since, err = datespec.Parse(in.Since, time.Now()); err != nil {
			return nil, CollectionResult{}, toolError(usererr.Usagef("since: %v", err))
		}
	}
	add, done := progress(ctx, req, "lines")
	res, err := collect.Logs(ctx, t.svc.Env(), collect.LogsRequest{Dir: abs, Config: cfg, Top: 20, Progress: add})
	done()
	return t.collected(ctx, rel, res, err)
}

// ServicesInput is the input of audit_services.
type ServicesInput struct {
	ServiceName string `json:"service_name,omitempty" jsonschema:"one service of the launcher manifest (default: every service)"`
}

func (t *tools) auditServices(ctx context.Context, req *mcp.CallToolRequest, in ServicesInput) (*mcp.CallToolResult, CollectionResult, error) {
	if err := t.allow(req, token.Append); err != nil {
		return nil, CollectionResult{}, toolError(err)
	}
	cfg := service.Config{EngineHosts: t.svc.EngineHosts()}
	if in.ServiceName != "" {
		cfg.Services = []string{in.ServiceName}
	}
	res, err := collect.Services(ctx, t.svc.Env(), collect.ServicesRequest{Repo: t.svc.Root(), Config: cfg})
	target := in.ServiceName
	if target == "" {
		target = "all services"
	}
	return t.collected(ctx, target, res, err)
}

// VerifyInput is the input of verify_audit_chain: none.
type VerifyInput struct{}

// VerifyResult is what verify_audit_chain returns.
type VerifyResult struct {
	OK        bool           `json:"ok" jsonschema:"every check passed"`
	Checks    []VerifyLine   `json:"checks"`
	Failure   map[string]any `json:"failure,omitempty" jsonschema:"the first failing record (sequence, record_id) and why"`
	Error     string         `json:"error,omitempty"`
	Integrity map[string]any `json:"integrity,omitempty" jsonschema:"what was verified: origin, log id, size, root, the latest signed checkpoint"`
}

// VerifyLine is one check of a verification.
type VerifyLine struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func verifyResult(rep *trail.Report) VerifyResult {
	out := VerifyResult{OK: rep.OK, Error: rep.Error, Checks: []VerifyLine{}}
	for _, c := range rep.Checks {
		out.Checks = append(out.Checks, VerifyLine(c))
	}
	if rep.Failure != nil {
		out.Failure = object(rep.Failure)
	}
	if rep.Integrity != nil {
		out.Integrity = object(rep.Integrity)
	}
	return out
}

func (t *tools) verifyChain(ctx context.Context, req *mcp.CallToolRequest, _ VerifyInput) (*mcp.CallToolResult, VerifyResult, error) {
	if err := t.allow(req, token.Verify); err != nil {
		return nil, VerifyResult{}, toolError(err)
	}
	add, done := progress(ctx, req, "records verified")
	var seen uint64
	rep, err := t.svc.Trail().Verify(ctx, trail.VerifyOptions{Chain: true, Progress: func(n uint64) {
		add(int64(n - seen))
		seen = n
	}})
	done()
	if rep == nil || (err != nil && len(rep.Checks) == 0) {
		return nil, VerifyResult{}, toolError(err)
	}
	// A verification that ran and failed is the tool's answer, not an
	// error of the tool: ok is false and failure says where.
	return nil, verifyResult(rep), nil
}

// QueryInput is the input of query_audit_trail.
type QueryInput struct {
	Action string `json:"action,omitempty" jsonschema:"only records of this action (e.g. git_commit, file_hash, deploy)"`
	User   string `json:"user,omitempty" jsonschema:"only records by this actor"`
	Since  string `json:"since,omitempty" jsonschema:"only records from this time on: an ISO date, RFC 3339, or '7 days ago'"`
	Limit  int    `json:"limit,omitempty" jsonschema:"at most this many records, 1 to 1000 (default 100)"`
}

// QueryResult is what query_audit_trail returns.
type QueryResult struct {
	Count   int              `json:"count"`
	Records []map[string]any `json:"records" jsonschema:"the records, oldest first, as stored (record_id, record_hash, sequence, timestamp, actor, action, target, …)"`
	More    bool             `json:"more" jsonschema:"more records match than the limit"`
}

func (t *tools) query(ctx context.Context, req *mcp.CallToolRequest, in QueryInput) (*mcp.CallToolResult, QueryResult, error) {
	if err := t.allow(req, token.Read); err != nil {
		return nil, QueryResult{}, toolError(err)
	}
	f, err := filterspec.Spec{Action: in.Action, User: in.User, Since: in.Since}.Filter(time.Now(), func(n string) string { return n })
	if err != nil {
		return nil, QueryResult{}, toolError(err)
	}
	f.Limit = in.Limit
	page, err := t.svc.Query(ctx, caller(req), f, "")
	if err != nil {
		return nil, QueryResult{}, toolError(err)
	}
	out := QueryResult{Count: len(page.Records), Records: make([]map[string]any, len(page.Records)), More: page.Next != ""}
	for i, r := range page.Records {
		out.Records[i] = object(r)
	}
	return nil, out, nil
}

// ProveInput is the input of prove_record.
type ProveInput struct {
	RecordID string `json:"record_id" jsonschema:"the record's id (a UUID)"`
}

// ProveResult is what prove_record returns: the file 'ami-audit prove'
// writes.
type ProveResult struct {
	Format     string         `json:"format"`
	Checkpoint string         `json:"checkpoint" jsonschema:"the signed checkpoint the proof leads to"`
	LeafIndex  uint64         `json:"leaf_index" jsonschema:"the record's sequence"`
	TreeSize   uint64         `json:"tree_size"`
	Record     map[string]any `json:"record"`
	Proof      []string       `json:"inclusion_proof" jsonschema:"the hashes from the record's leaf to the root, base64"`
}

func (t *tools) prove(ctx context.Context, req *mcp.CallToolRequest, in ProveInput) (*mcp.CallToolResult, ProveResult, error) {
	if err := t.allow(req, token.Read); err != nil {
		return nil, ProveResult{}, toolError(err)
	}
	rec, err := t.svc.Get(ctx, caller(req), in.RecordID)
	if err != nil {
		return nil, ProveResult{}, toolError(err)
	}
	p, err := t.svc.Trail().Prove(ctx, rec.RecordID, nil)
	if err != nil {
		return nil, ProveResult{}, toolError(err)
	}
	return nil, ProveResult{Format: p.Format, Checkpoint: p.Checkpoint, LeafIndex: p.LeafIndex, TreeSize: p.TreeSize, Record: object(rec), Proof: p.Proof}, nil
}

func rootText(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// CheckpointInput is the input of get_checkpoint: none.
type CheckpointInput struct{}

// CheckpointResult is what get_checkpoint returns.
type CheckpointResult struct {
	Checkpoint string `json:"checkpoint" jsonschema:"the signed note: origin, size, root, and the log key's signature"`
	Origin     string `json:"origin"`
	Size       uint64 `json:"size"`
	Root       string `json:"root" jsonschema:"the Merkle root, base64"`
}

func (t *tools) checkpoint(ctx context.Context, req *mcp.CallToolRequest, _ CheckpointInput) (*mcp.CallToolResult, CheckpointResult, error) {
	if err := t.allow(req, token.Read); err != nil {
		return nil, CheckpointResult{}, toolError(err)
	}
	note, cp, err := t.svc.Trail().Checkpoint(ctx)
	if err != nil {
		return nil, CheckpointResult{}, toolError(err)
	}
	return nil, CheckpointResult{Checkpoint: string(note), Origin: cp.Origin, Size: cp.Size, Root: rootText(cp.Root)}, nil
}

// ReportInput is the input of report.
type ReportInput struct {
	Format    string   `json:"format,omitempty" jsonschema:"markdown (default), json, yaml, csv, html, terminal or oscal"`
	Since     string   `json:"since,omitempty" jsonschema:"the period's start: a date, RFC 3339 time or relative form (\"90 days ago\"); default: the trail's start"`
	Until     string   `json:"until,omitempty" jsonschema:"the period's end (exclusive); default: now"`
	Framework []string `json:"framework,omitempty" jsonschema:"frameworks to assess by catalog id (eu-ai-act, iso27001, iso27001-2013, iso42001, nist-ai-rmf, nist-800-53); default: the trail's settings, else all"`
}

// ReportResult is what report returns.
type ReportResult struct {
	Format    string         `json:"format"`
	Records   int            `json:"records" jsonschema:"records of the period the report covers"`
	Content   string         `json:"content" jsonschema:"the rendered report"`
	Integrity map[string]any `json:"integrity" jsonschema:"the trail's integrity as verified for the report: size, root, signed checkpoint, verified"`
}

func (t *tools) report(ctx context.Context, req *mcp.CallToolRequest, in ReportInput) (*mcp.CallToolResult, ReportResult, error) {
	if err := t.allow(req, token.Read); err != nil {
		return nil, ReportResult{}, toolError(err)
	}
	format := in.Format
	if format == "" {
		format = "markdown"
	}
	name, ok := formats.Canonical(format)
	if !ok {
		return nil, ReportResult{}, toolError(usererr.Usagef("format %q: want one of %s", in.Format, strings.Join(formats.Names(), ", ")))
	}
	now := time.Now()
	period, err := filterspec.Spec{Since: in.Since, Until: in.Until}.Filter(now, func(n string) string { return n })
	if err != nil {
		return nil, ReportResult{}, toolError(err)
	}
	tr := t.svc.Trail()
	opts, err := trailreport.OptionsFor(tr, trailreport.Request{Since: period.Since, Until: period.Until, Frameworks: in.Framework, Now: now})
	if err != nil {
		return nil, ReportResult{}, toolError(err)
	}
	res, err := trailreport.Build(ctx, tr, opts)
	if err != nil {
		return nil, ReportResult{}, toolError(err)
	}
	fm, err := formats.ByName(name, formats.Options{})
	if err != nil {
		return nil, ReportResult{}, toolError(err)
	}
	var b bytes.Buffer
	if err := fm.Format(&b, res.Report); err != nil {
		return nil, ReportResult{}, toolError(err)
	}
	return nil, ReportResult{Format: name, Records: int(res.Count), Content: b.String(), Integrity: object(res.Report.Integrity)}, nil
}

// object is v as a JSON object: what a tool's structured result holds
// where its schema says "object".
func object(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return m
}
