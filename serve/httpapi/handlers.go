package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/filterspec"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/jsonl"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/serve/token"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// via names this front end in the records it appends.
const via = "http"

// Health is the answer of GET /v1/health.
type Health struct {
	Status  string         `json:"status"`
	Origin  string         `json:"origin"`
	LogID   string         `json:"log_id"`
	Size    uint64         `json:"size"`
	CanSign bool           `json:"can_sign"`
	Caller  token.Identity `json:"caller"`
}

func (a *API) health(w http.ResponseWriter, r *http.Request, who token.Identity) {
	t := a.svc.Trail()
	h, err := t.Store().Head(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id := t.Identity()
	writeJSON(w, http.StatusOK, Health{Status: "ok", Origin: id.Origin, LogID: id.LogID, Size: h.Size, CanSign: t.CanSign(), Caller: who})
}

func (a *API) openapi(w http.ResponseWriter, _ *http.Request, _ token.Identity) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// Appended is the answer of POST /v1/records.
type Appended struct {
	Appended  int      `json:"appended"`
	RecordIDs []string `json:"record_ids"`
	// Sequence and RecordHash are those of the one record appended (a
	// single-object body).
	Sequence   *uint64 `json:"sequence,omitempty"`
	RecordHash string  `json:"record_hash,omitempty"`
}

// appendRecords appends one record (a body of one JSON object, appended
// with the group commit other requests share) or many (JSON lines, or
// objects one after the other, appended atomically: a wrong one refuses
// them all).
func (a *API) appendRecords(w http.ResponseWriter, r *http.Request, who token.Identity) {
	if r.ContentLength > a.cfg.MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("the body is %d bytes; at most %d are accepted (split the batch)", r.ContentLength, a.cfg.MaxBody))
		return
	}
	body := bodyRecords(r, http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	defer body.close()
	first, err := body.record()
	if err == io.EOF {
		a.fail(w, r, usererr.Usagef("the body holds no record: send one JSON object, or JSON lines"))
		return
	}
	if err != nil {
		a.fail(w, r, fmt.Errorf("%w; nothing was appended", err))
		return
	}
	second, err := body.record()
	if err == io.EOF {
		if err := a.svc.Append(r.Context(), who, via, first); err != nil {
			a.fail(w, r, err)
			return
		}
		seq := first.Sequence
		writeJSON(w, http.StatusCreated, Appended{Appended: 1, RecordIDs: []string{first.RecordID}, Sequence: &seq, RecordHash: first.RecordHash})
		return
	}
	all := func(yield func(*audit.Record, error) bool) {
		if !yield(first, nil) {
			return
		}
		if err != nil {
			yield(nil, err)
			return
		}
		if !yield(second, nil) {
			return
		}
		for {
			rec, err := body.record()
			if err == io.EOF {
				return
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
	ids, err := a.svc.AppendAll(r.Context(), who, via, all)
	if err != nil {
		var be *ledger.BatchError
		if errors.As(err, &be) && !errors.Is(err, ledger.ErrTampered) {
			err = &recordError{record: be.Index + 1, err: fmt.Errorf("record %d: %w; nothing was appended", be.Index+1, be.Err)}
		} else if !errors.Is(err, ledger.ErrTampered) {
			err = fmt.Errorf("%w; nothing was appended", err)
		}
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, Appended{Appended: len(ids), RecordIDs: ids})
}

// records reads the records of a request body one at a time.
type records interface {
	// record returns the next record or io.EOF.
	record() (*audit.Record, error)
	close()
}

// jsonLinesTypes are the media types of JSON lines: one record per line,
// read line by line (a wrong line is named exactly).
var jsonLinesTypes = []string{"application/x-ndjson", "application/jsonl", "application/json-lines", "application/jsonlines", "application/x-jsonlines", "text/jsonl"}

// bodyRecords reads a body as JSON lines when its media type says so, and
// otherwise as JSON values one after the other (one object, objects over
// several lines, or JSON lines alike).
func bodyRecords(req *http.Request, body io.Reader) records {
	mt, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
	if slices.Contains(jsonLinesTypes, strings.ToLower(strings.TrimSpace(mt))) {
		next, stop := iter.Pull2(jsonl.Read(body, "http"))
		return &lines{next: next, stop: stop}
	}
	return newValues(body)
}

// lines reads JSON lines.
type lines struct {
	next func() (*audit.Record, error, bool)
	stop func()
	n    int
}

func (l *lines) record() (*audit.Record, error) {
	r, err, ok := l.next()
	if !ok {
		return nil, io.EOF
	}
	l.n++
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, mbe
		}
		line := 0
		var le *jsonl.LineError
		if errors.As(err, &le) {
			line = le.Line
		}
		return nil, &recordError{line: line, record: l.n, err: fmt.Errorf("record %d: %w", l.n, err)}
	}
	return r, nil
}

func (l *lines) close() { l.stop() }

// values reads the JSON values of a body one after the other (JSON lines,
// or objects written one after the other or over several lines), knowing
// the line each ends on.
type values struct {
	lines *lineCounter
	dec   *json.Decoder
	n     int
}

func (v *values) close() {}

func newValues(r io.Reader) *values {
	lc := &lineCounter{r: bufio.NewReaderSize(r, 64<<10)}
	return &values{lines: lc, dec: json.NewDecoder(lc)}
}

// record returns the next record, parsed and validated as 'record --from'
// does (jsonl.Parse: exact field names, no unknown field), or io.EOF.
func (v *values) record() (*audit.Record, error) {
	var raw json.RawMessage
	err := v.dec.Decode(&raw)
	if err == io.EOF {
		return nil, io.EOF
	}
	v.n++
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		var se *json.SyntaxError
		line := v.lines.lineAt(v.dec.InputOffset())
		if errors.As(err, &se) {
			line = v.lines.lineAt(se.Offset)
		}
		return nil, &recordError{line: line, record: v.n, err: fmt.Errorf("line %d (record %d): not JSON: %v", line, v.n, err)}
	}
	line := v.lines.lineAt(v.dec.InputOffset() - 1)
	rec, err := jsonl.Parse(raw, "http")
	if err != nil {
		return nil, &recordError{line: line, record: v.n, err: fmt.Errorf("line %d (record %d): %w", line, v.n, err)}
	}
	return rec, nil
}

// lineCounter notes where the lines of what passes through it end.
type lineCounter struct {
	r   io.Reader
	off int64
	nl  []int64 // offsets of the newlines read
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			c.nl = append(c.nl, c.off+int64(i))
		}
	}
	c.off += int64(n)
	return n, err
}

// lineAt is the line (1-based) of the byte at offset off.
func (c *lineCounter) lineAt(off int64) int {
	return sort.Search(len(c.nl), func(i int) bool { return c.nl[i] >= off }) + 1
}

func (a *API) get(w http.ResponseWriter, r *http.Request, who token.Identity) {
	rec, err := a.svc.Get(r.Context(), who, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// params reads a query string strictly: a parameter the route does not
// take, or one given twice, is refused.
func params(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, usererr.Usagef("query string: %v", err)
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return nil, usererr.Usagef("unknown parameter %q (this route takes: %s)", k, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return nil, usererr.Usagef("parameter %q given %d times", k, len(v))
		}
	}
	return q, nil
}

// filterParams are the filter parameters of the query and the feed.
var filterParams = []string{"action", "actor", "user", "target", "target_type", "module", "severity", "since", "until"}

func filterOf(q url.Values, newest bool) (audit.Filter, error) {
	return filterspec.Spec{Action: q.Get("action"), Actor: q.Get("actor"), User: q.Get("user"), Target: q.Get("target"),
		TargetType: q.Get("target_type"), Module: q.Get("module"), Severity: q.Get("severity"), Since: q.Get("since"),
		Until: q.Get("until"), Newest: newest}.Filter(time.Now(), func(n string) string { return n })
}

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, usererr.Usagef("%s=%q: want true or false", name, v)
	}
	return b, nil
}

func uintParam(q url.Values, name string) (uint64, bool, error) {
	v := q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, usererr.Usagef("%s=%q: want a whole number", name, v)
	}
	return n, true, nil
}

func (a *API) query(w http.ResponseWriter, r *http.Request, who token.Identity) {
	q, err := params(r, append(slices.Clone(filterParams), "limit", "newest", "cursor")...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	newest, err := boolParam(q, "newest")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := filterOf(q, newest)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if n, ok, err := uintParam(q, "limit"); err != nil {
		a.fail(w, r, err)
		return
	} else if ok {
		if n == 0 || n > 1<<20 {
			a.fail(w, r, usererr.Usagef("limit=%d: give 1 to 1000 (page with the cursor for more)", n))
			return
		}
		f.Limit = int(n)
	}
	page, err := a.svc.Query(r.Context(), who, f, q.Get("cursor"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// checkpointParam reads a saved checkpoint given as a parameter (a signed
// note, URL-encoded); nil when not given.
func checkpointParam(q url.Values) []byte {
	if v := q.Get("checkpoint"); v != "" {
		return []byte(v)
	}
	return nil
}

func (a *API) proveInclusion(w http.ResponseWriter, r *http.Request, who token.Identity) {
	q, err := params(r, "checkpoint")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The caller must be allowed to see the record it asks a proof of.
	rec, err := a.svc.Get(r.Context(), who, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.Trail().Prove(r.Context(), rec.RecordID, checkpointParam(q))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if b, err := json.Marshal(rec); err == nil && rec.RecordHash != "" {
		p.Record = b // what the caller may see; the proof is over record_hash
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) proveConsistency(w http.ResponseWriter, r *http.Request, _ token.Identity) {
	q, err := params(r, "old_size", "checkpoint")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	old, ok, err := uintParam(q, "old_size")
	if err == nil && !ok {
		err = usererr.Usagef("old_size is required: the size of the older tree (a checkpoint you kept)")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.Trail().ProveConsistency(r.Context(), old, checkpointParam(q))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// Checkpoint is the answer of GET /v1/checkpoint.
type Checkpoint struct {
	Checkpoint string `json:"checkpoint"`
	Origin     string `json:"origin"`
	Size       uint64 `json:"size"`
	Root       string `json:"root"`
}

func (a *API) checkpoint(w http.ResponseWriter, r *http.Request, _ token.Identity) {
	if _, err := params(r); err != nil {
		a.fail(w, r, err)
		return
	}
	note, cp, err := a.svc.Trail().Checkpoint(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(note)
		return
	}
	writeJSON(w, http.StatusOK, Checkpoint{Checkpoint: string(note), Origin: cp.Origin, Size: cp.Size, Root: rootText(cp.Root)})
}

// VerifyRequest is the body of POST /v1/verify. An empty body verifies the
// whole chain.
type VerifyRequest struct {
	// Chain verifies the whole trail (the default).
	Chain bool `json:"chain,omitempty"`
	// From and To verify the records from <= sequence < to alone.
	From *uint64 `json:"from,omitempty"`
	To   *uint64 `json:"to,omitempty"`
	// RecordID verifies one record.
	RecordID string `json:"record_id,omitempty"`
	// Checkpoints are saved checkpoints (signed notes) the log must
	// extend.
	Checkpoints []string `json:"checkpoints,omitempty"`
	// Signatures checks signatures and co-signatures against the trail's
	// trusted keys, with Quorum ("k/n") when given.
	Signatures bool   `json:"signatures,omitempty"`
	Quorum     string `json:"quorum,omitempty"`
}

func (a *API) verify(w http.ResponseWriter, r *http.Request, _ token.Identity) {
	var req VerifyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && err != io.EOF {
		a.fail(w, r, usererr.Usagef("verify request: %v", err))
		return
	}
	ctx := r.Context()
	var rep *trail.Report
	var err error
	switch {
	case req.From != nil || req.To != nil:
		if req.From == nil || req.To == nil || req.Chain || req.RecordID != "" || len(req.Checkpoints) > 0 || req.Signatures {
			a.fail(w, r, usererr.Usagef("verify a range with from and to alone"))
			return
		}
		rep, err = a.svc.Trail().VerifyRange(ctx, *req.From, *req.To)
	default:
		o := trail.VerifyOptions{Chain: req.Chain, Signatures: req.Signatures}
		if req.RecordID != "" {
			id, ok := audit.CanonicalID(req.RecordID)
			if !ok {
				a.fail(w, r, usererr.Usagef("record_id %q is not a record id", req.RecordID))
				return
			}
			o.RecordID = id
		}
		if req.Quorum != "" {
			if o.Quorum, err = ledger.ParseQuorum(req.Quorum); err != nil {
				a.fail(w, r, usererr.Usage(err))
				return
			}
		}
		for i, c := range req.Checkpoints {
			o.Checkpoints = append(o.Checkpoints, trail.SavedCheckpoint{Name: fmt.Sprintf("checkpoints[%d]", i), Note: []byte(c)})
		}
		rep, err = a.svc.Trail().Verify(ctx, o)
	}
	// A verification that ran answers with its report, passed or failed
	// (ok false: the first failing record and why); one that could not
	// run (bad options, a store error) with an error.
	if err != nil && !errors.Is(err, ledger.ErrTampered) {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
