package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/httpapi"
	"github.com/ami-orchestrator/ami-audit/serve/servetest"
	"github.com/ami-orchestrator/ami-audit/trail"
)

type server struct {
	*servetest.Trail
	api *httpapi.API
	url string
	t   testing.TB
}

func newServer(t testing.TB, st *servetest.Trail, cfg httpapi.Config) *server {
	cfg.Service, cfg.Tokens = st.Service, st.Tokens
	if cfg.FeedPoll == 0 {
		cfg.FeedPoll = 20 * time.Millisecond
	}
	api := httpapi.New(cfg)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	return &server{Trail: st, api: api, url: ts.URL, t: t}
}

// do sends a request with the token of role ("" : none) and returns the
// status and body.
func (s *server) do(method, path, role string, body io.Reader) (int, []byte) {
	return s.doType(method, path, role, "", body)
}

func (s *server) doType(method, path, role, contentType string, body io.Reader) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func errCode(b []byte) string {
	var e httpapi.Error
	json.Unmarshal(b, &e)
	return e.Error.Code
}

func line(actor, action string) string {
	return fmt.Sprintf(`{"actor":%q,"action":%q,"target":"svc/api","target_type":"service"}`, actor, action)
}

func (s *server) size() uint64 {
	s.t.Helper()
	h, err := s.Trail.Trail.Store().Head(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return h.Size
}

func (s *server) appendOne(actor string) string {
	s.t.Helper()
	code, b := s.do("POST", "/v1/records", "writer", strings.NewReader(line(actor, "deploy")))
	if code != http.StatusCreated {
		s.t.Fatalf("append: %d %s", code, b)
	}
	var a httpapi.Appended
	json.Unmarshal(b, &a)
	return a.RecordIDs[0]
}

// Each route with each role: allowed, refused for the role (403), refused
// without a valid token (401: none, unknown, expired, revoked).
func TestRoutesByRole(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	id := s.appendOne("seed")
	type call struct {
		method, path, body string
		ok                 int
		allowed            []string
	}
	all := []string{"reader", "writer", "verifier", "admin"}
	calls := []call{
		{"GET", "/v1/health", "", 200, all},
		{"GET", "/openapi.json", "", 200, all},
		{"POST", "/v1/records", line("x", "y"), 201, []string{"writer", "admin"}},
		{"GET", "/v1/records?actor=seed", "", 200, all},
		{"GET", "/v1/records/" + id, "", 200, all},
		{"GET", "/v1/records/" + id + "/proof", "", 200, all},
		{"GET", "/v1/proofs/consistency?old_size=1", "", 200, all},
		{"GET", "/v1/checkpoint", "", 200, all},
		{"POST", "/v1/verify", `{"chain":true}`, 200, []string{"verifier", "admin"}},
		{"GET", "/v1/feed?from=0", "", 200, all}, // the first event ends the read
	}
	if diff := cmp.Diff(len(s.api.Routes()), len(calls)); diff != "" {
		t.Fatalf("every route is called here: %s", diff)
	}
	for _, c := range calls {
		for _, role := range append(slices.Clone(all), "", "expired", "revoked", "unknown") {
			t.Run(c.method+" "+c.path+" as "+role, func(t *testing.T) {
				req, _ := http.NewRequest(c.method, s.url+c.path, strings.NewReader(c.body))
				switch role {
				case "":
				case "unknown":
					req.Header.Set("Authorization", "Bearer amiat_0123456789ab_"+strings.Repeat("A", 43))
				default:
					req.Header.Set("Authorization", "Bearer "+s.Token[role])
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				resp, err := http.DefaultClient.Do(req.WithContext(ctx))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var b []byte
				if strings.HasPrefix(c.path, "/v1/feed") && resp.StatusCode == 200 {
					// The feed streams: one event is enough.
					b = readEvent(t, bufio.NewReader(resp.Body))
				} else {
					b, _ = io.ReadAll(resp.Body)
				}
				want, code := c.ok, ""
				switch {
				case role == "" || role == "unknown":
					want, code = 401, httpapi.CodeUnauthenticated
				case role == "expired":
					want, code = 401, httpapi.CodeTokenExpired
				case role == "revoked":
					want, code = 401, httpapi.CodeTokenRevoked
				case !slices.Contains(c.allowed, role):
					want, code = 403, httpapi.CodeForbidden
				}
				if resp.StatusCode != want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, b)
				}
				if code != "" && errCode(b) != code {
					t.Errorf("error code %q, want %q: %s", errCode(b), code, b)
				}
				if want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("a 401 without WWW-Authenticate")
				}
			})
		}
	}
	// Unknown routes and methods answer with JSON errors too.
	if code, b := s.do("GET", "/v1/nothing", "reader", nil); code != 404 || errCode(b) != httpapi.CodeNotFound {
		t.Errorf("unknown route: %d %s", code, b)
	}
	if code, b := s.do("DELETE", "/v1/records", "admin", nil); code != 405 || errCode(b) != httpapi.CodeMethodNotAllowed {
		t.Errorf("DELETE: %d %s", code, b)
	}
	if code, b := s.do("GET", "/v1/records/"+audit.NewID(), "reader", nil); code != 404 || errCode(b) != httpapi.CodeNotFound {
		t.Errorf("unknown record: %d %s", code, b)
	}
}

// readEvent reads one server-sent event's data (comments skipped).
func readEvent(t testing.TB, br *bufio.Reader) []byte {
	t.Helper()
	var data []byte
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("feed: %v", err)
		}
		l = strings.TrimRight(l, "\n")
		switch {
		case strings.HasPrefix(l, "data: "):
			data = append(data, l[len("data: "):]...)
		case l == "" && data != nil:
			return data
		}
	}
}

// The authenticated identity is recorded beside the claimed actor, and a
// body cannot claim one.
func TestAppendRecordsWhoAppended(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	id := s.appendOne("mallory")
	r, err := s.Trail.Trail.Store().Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Metadata[serve.MetaCaller].(map[string]any)
	want := map[string]any{"name": "writer-client", "role": "writer", "via": "http", "id": got["id"]}
	if diff := cmp.Diff(want, got); diff != "" || r.Actor != "mallory" {
		t.Errorf("caller (-want +got):\n%s (actor %s)", diff, r.Actor)
	}
	spoof := `{"actor":"x","action":"y","target":"t","target_type":"file","metadata":{"caller":{"name":"admin"}}}`
	before := s.size()
	for _, body := range []string{spoof, line("a", "b") + "\n" + spoof + "\n"} {
		code, b := s.do("POST", "/v1/records", "admin", strings.NewReader(body))
		if code != 400 || errCode(b) != httpapi.CodeInvalidRecord || !strings.Contains(string(b), "caller") {
			t.Errorf("a body claiming an identity: %d %s", code, b)
		}
	}
	if s.size() != before {
		t.Errorf("a refused body appended %d records", s.size()-before)
	}
}

// A batch is atomic: a malformed line, a wrong field, a duplicate id
// refuse the whole batch and name the line.
func TestAppendBatchAtomic(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	dup := s.appendOne("first")
	var good []string
	for i := range 50 {
		good = append(good, line(fmt.Sprint("u", i), "deploy"))
	}
	cases := map[string]struct {
		lines []string
		code  string
		line  int
		want  int
	}{
		"malformed JSON":  {append(slices.Clone(good[:10]), `{"actor": "a", `, good[11]), httpapi.CodeInvalidRecord, 11, 400},
		"misspelt field":  {append(slices.Clone(good[:3]), strings.Replace(good[3], `"actor"`, `"Actor"`, 1)), httpapi.CodeInvalidRecord, 4, 400},
		"unknown field":   {append(slices.Clone(good[:5]), `{"actor":"a","action":"b","target":"t","target_type":"file","colour":"red"}`), httpapi.CodeInvalidRecord, 6, 400},
		"assigned field":  {append(slices.Clone(good[:2]), `{"actor":"a","action":"b","target":"t","target_type":"file","sequence":3}`), httpapi.CodeInvalidRecord, 3, 400},
		"not an object":   {append(slices.Clone(good[:2]), `[1,2]`), httpapi.CodeInvalidRecord, 3, 400},
		"duplicate id":    {append(slices.Clone(good[:20]), fmt.Sprintf(`{"record_id":%q,"actor":"a","action":"b","target":"t","target_type":"file"}`, dup)), httpapi.CodeDuplicateID, 0, 409},
		"reserved action": {append(slices.Clone(good[:2]), fmt.Sprintf(`{"actor":"a","action":%q,"target":"t","target_type":"file"}`, audit.ForgettingActions[0])), httpapi.CodeInvalidRequest, 0, 400},
		"invalid utf-8":   {append(slices.Clone(good[:2]), "{\"actor\":\"a\xff\",\"action\":\"b\",\"target\":\"t\",\"target_type\":\"file\"}"), httpapi.CodeInvalidRecord, 3, 400},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := s.size()
			code, b := s.doType("POST", "/v1/records", "writer", "application/x-ndjson", strings.NewReader(strings.Join(c.lines, "\n")+"\n"))
			if code != c.want || errCode(b) != c.code {
				t.Fatalf("%d %s, want %d %s", code, b, c.want, c.code)
			}
			var e httpapi.Error
			json.Unmarshal(b, &e)
			if c.line != 0 && e.Error.Line != c.line {
				t.Errorf("line %d, want %d: %s", e.Error.Line, c.line, b)
			}
			if !strings.Contains(e.Error.Message, "nothing was appended") {
				t.Errorf("message %q does not say nothing was appended", e.Error.Message)
			}
			if s.size() != before {
				t.Errorf("a refused batch appended %d records", s.size()-before)
			}
		})
	}
	// Without a media type the body is read as JSON values one after the
	// other: the same malformed batch is refused whole too.
	before0 := s.size()
	bad := append(slices.Clone(good[:10]), `{"actor": "a", `, good[11])
	if code, b := s.do("POST", "/v1/records", "writer", strings.NewReader(strings.Join(bad, "\n"))); code != 400 || errCode(b) != httpapi.CodeInvalidRecord || s.size() != before0 {
		t.Errorf("malformed values: %d %s, %d appended", code, b, s.size()-before0)
	}
	// The good batch, as JSON lines and as objects over several lines.
	before := s.size()
	code, b := s.do("POST", "/v1/records", "writer", strings.NewReader(strings.Join(good, "\n")))
	if code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	var a httpapi.Appended
	json.Unmarshal(b, &a)
	if a.Appended != 50 || len(a.RecordIDs) != 50 || s.size() != before+50 {
		t.Errorf("appended %+v, size %d → %d", a, before, s.size())
	}
	pretty := "{\n  \"actor\": \"p\",\n  \"action\": \"x\",\n  \"target\": \"t\",\n  \"target_type\": \"file\"\n}\n"
	if code, b := s.do("POST", "/v1/records", "writer", strings.NewReader(pretty+pretty)); code != 201 || !strings.Contains(string(b), `"appended":2`) {
		t.Errorf("two pretty-printed objects: %d %s", code, b)
	}
	if code, b := s.do("POST", "/v1/records", "writer", strings.NewReader("  \n")); code != 400 || errCode(b) != httpapi.CodeInvalidRequest {
		t.Errorf("an empty body: %d %s", code, b)
	}
}

// A body over the limit is refused whole, whether its length is announced
// or it streams past the limit after good records.
func TestBodyLimit(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{MaxBody: 4096})
	var lines []string
	for i := range 100 {
		lines = append(lines, line(fmt.Sprint("u", i), "deploy"))
	}
	body := strings.Join(lines, "\n")
	before := s.size()
	// Announced.
	if code, b := s.do("POST", "/v1/records", "writer", strings.NewReader(body)); code != 413 || errCode(b) != httpapi.CodeBodyTooLarge {
		t.Errorf("announced: %d %s", code, b)
	}
	// Streamed (no Content-Length): the first lines parse, then the limit.
	pr, pw := io.Pipe()
	go func() { io.WriteString(pw, body); pw.Close() }()
	if code, b := s.do("POST", "/v1/records", "writer", pr); code != 413 || errCode(b) != httpapi.CodeBodyTooLarge {
		t.Errorf("streamed: %d %s", code, b)
	}
	if s.size() != before {
		t.Errorf("a body over the limit appended %d records", s.size()-before)
	}
}

// Queries page with a cursor through every match, each record once, in
// order, oldest or newest first, with every filter.
func TestQueryPages(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	var want []string
	for i := range 45 {
		actor := "alice"
		if i%3 == 0 {
			actor = "bob"
		}
		id := s.appendOne(actor)
		if actor == "alice" {
			want = append(want, id)
		}
	}
	pages := func(q string) ([]string, int) {
		var ids []string
		n := 0
		cursor := ""
		for {
			path := "/v1/records?" + q
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			code, b := s.do("GET", path, "reader", nil)
			if code != 200 {
				t.Fatalf("%s: %d %s", path, code, b)
			}
			var p serve.Page
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			n++
			for _, r := range p.Records {
				ids = append(ids, r.RecordID)
			}
			if p.Next == "" {
				return ids, n
			}
			cursor = p.Next
		}
	}
	got, n := pages("actor=alice&limit=7")
	if diff := cmp.Diff(want, got); diff != "" || n != 5 {
		t.Errorf("oldest first, %d pages (-want +got):\n%s", n, diff)
	}
	got, _ = pages("user=alice&limit=4&newest=true")
	rev := slices.Clone(want)
	slices.Reverse(rev)
	if diff := cmp.Diff(rev, got); diff != "" {
		t.Errorf("newest first (-want +got):\n%s", diff)
	}
	got, _ = pages("action=deploy&target_type=service&severity=info&since=1%20hour%20ago&limit=1000")
	if len(got) != 45 {
		t.Errorf("every filter: %d records, want 45", len(got))
	}
	for _, bad := range []string{"limit=0", "limit=5000", "severity=loud", "since=someday", "colour=red", "cursor=xyz", "actor=a&actor=b", "newest=maybe"} {
		if code, b := s.do("GET", "/v1/records?"+bad, "reader", nil); code != 400 || errCode(b) != httpapi.CodeInvalidRequest {
			t.Errorf("%s: %d %s", bad, code, b)
		}
	}
}

// Inclusion and consistency proofs check against the signed checkpoints
// with nothing but the log's public key.
func TestProofs(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	var ids []string
	for i := range 9 {
		ids = append(ids, s.appendOne(fmt.Sprint("a", i)))
	}
	code, b := s.do("GET", "/v1/checkpoint", "reader", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var old httpapi.Checkpoint
	json.Unmarshal(b, &old)
	if old.Size != 9 {
		t.Fatalf("checkpoint size %d, want 9", old.Size)
	}
	for range 7 {
		s.appendOne("later")
	}
	key := s.Trail.Trail.PublicKey()
	code, b = s.do("GET", "/v1/records/"+ids[4]+"/proof", "reader", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if c, err := trail.VerifyProof(b, key); err != nil || !c.OK {
		t.Errorf("inclusion proof: %+v %v", c, err)
	}
	// Against the old checkpoint too.
	code, b = s.do("GET", "/v1/records/"+ids[8]+"/proof?checkpoint="+url.QueryEscape(old.Checkpoint), "reader", nil)
	if c, err := trail.VerifyProof(b, key); code != 200 || err != nil || !c.OK {
		t.Errorf("inclusion proof against the old checkpoint: %d %+v %v %s", code, c, err, b)
	}
	// A tampered proof does not check.
	tampered := bytes.Replace(b, []byte(`"leaf_index":8`), []byte(`"leaf_index":7`), 1)
	if _, err := trail.VerifyProof(tampered, key); err == nil {
		t.Error("a proof with another leaf index checked")
	}
	code, b = s.do("GET", "/v1/proofs/consistency?old_size=9", "reader", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var cp trail.ConsistencyProof
	json.Unmarshal(b, &cp)
	newCP, _, err := ledger.OpenCheckpoint([]byte(cp.Checkpoint), note.VerifierList(key))
	if err != nil {
		t.Fatal(err)
	}
	oldRoot, _ := base64.StdEncoding.DecodeString(old.Root)
	if cp.OldRoot != old.Root {
		t.Errorf("old root %s, want the old checkpoint's %s", cp.OldRoot, old.Root)
	}
	var proof tlog.TreeProof
	for _, h := range cp.Proof {
		d, _ := base64.StdEncoding.DecodeString(h)
		proof = append(proof, tlog.Hash(d))
	}
	if err := tlog.CheckTree(proof, int64(newCP.Size), newCP.Root, 9, tlog.Hash(oldRoot)); err != nil || newCP.Size != 16 {
		t.Errorf("consistency proof 9 → %d: %v", newCP.Size, err)
	}
	for _, bad := range []string{"old_size=0", "old_size=99", "", "old_size=x"} {
		if code, b := s.do("GET", "/v1/proofs/consistency?"+bad, "reader", nil); code != 400 {
			t.Errorf("%q: %d %s", bad, code, b)
		}
	}
}

// Verification of the chain and of a range: a changed record fails both
// when they cover it, and a range before it still verifies.
func TestVerifyRangeAndTamper(t *testing.T) {
	st := servetest.New(t)
	s := newServer(t, st, httpapi.Config{})
	for i := range 20 {
		s.appendOne(fmt.Sprint("a", i))
	}
	verify := func(body string) trail.Report {
		code, b := s.do("POST", "/v1/verify", "verifier", strings.NewReader(body))
		if code != 200 {
			t.Fatalf("verify %s: %d %s", body, code, b)
		}
		var rep trail.Report
		json.Unmarshal(b, &rep)
		return rep
	}
	for _, body := range []string{``, `{"chain":true}`, `{"from":0,"to":20}`, `{"from":5,"to":12}`} {
		if rep := verify(body); !rep.OK {
			t.Errorf("verify %s: %+v", body, rep)
		}
	}
	for _, bad := range []string{`{"from":5}`, `{"from":5,"to":5}`, `{"from":0,"to":21}`, `{"colour":1}`, `{"quorum":"x"}`} {
		if code, b := s.do("POST", "/v1/verify", "verifier", strings.NewReader(bad)); code != 400 {
			t.Errorf("verify %s: %d %s", bad, code, b)
		}
	}
	tamper(t, st, 14)
	if rep := verify(`{"chain":true}`); rep.OK || rep.Failure == nil || rep.Failure.Seq != 14 {
		t.Errorf("chain after a change of record 14: %+v", rep)
	}
	if rep := verify(`{"from":10,"to":20}`); rep.OK || rep.Failure == nil || rep.Failure.Seq != 14 {
		t.Errorf("range over record 14: %+v", rep)
	}
	if rep := verify(`{"from":2,"to":13}`); !rep.OK {
		t.Errorf("range before record 14: %+v", rep)
	}
	if code, b := s.do("GET", "/v1/checkpoint", "reader", nil); code != 409 || errCode(b) != httpapi.CodeVerificationFailed {
		t.Errorf("checkpoint of a changed trail: %d %s", code, b)
	}
}

// The live feed sends the records appended, in order, and resumes after
// the last event id.
func TestFeed(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	s.appendOne("before")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := func(q, last string) *bufio.Reader {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/feed?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token["reader"])
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return bufio.NewReader(resp.Body)
	}
	feed := open("actor=carol", "")
	time.Sleep(50 * time.Millisecond)
	var want []string
	for i := range 6 {
		actor := "carol"
		if i%2 == 1 {
			actor = "dave"
		}
		id := s.appendOne(actor)
		if actor == "carol" {
			want = append(want, id)
		}
	}
	var got []string
	for range want {
		var r audit.Record
		if err := json.Unmarshal(readEvent(t, feed), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RecordID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
	// Resume after sequence 2: records 3.. of carol.
	r2 := open("actor=carol", "2")
	var r audit.Record
	json.Unmarshal(readEvent(t, r2), &r)
	if r.Sequence <= 2 || r.Actor != "carol" {
		t.Errorf("resumed at %d (%s)", r.Sequence, r.Actor)
	}
}

// Each token has its own rate limit.
func TestRateLimit(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{Rate: 0.001, Burst: 3})
	var codes []int
	for range 5 {
		code, _ := s.do("GET", "/v1/health", "reader", nil)
		codes = append(codes, code)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 429, 429}, codes); diff != "" {
		t.Errorf("reader (-want +got):\n%s", diff)
	}
	if code, _ := s.do("GET", "/v1/health", "writer", nil); code != 200 {
		t.Errorf("another token was limited too: %d", code)
	}
}

// The OpenAPI document describes exactly the routes served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	code, b := s.do("GET", "/openapi.json", "reader", nil)
	if code != 200 {
		t.Fatal(code)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("not an OpenAPI 3.1 document: %v %q", err, doc.OpenAPI)
	}
	var documented, served []string
	for p, ops := range doc.Paths {
		for m, op := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
			if _, ok := op["responses"].(map[string]any)["401"]; !ok {
				t.Errorf("%s %s does not document 401", m, p)
			}
		}
	}
	for _, r := range s.api.Routes() {
		served = append(served, r.Method+" "+r.Pattern)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("routes (-served +documented):\n%s", diff)
	}
}

// tamper changes the actor of record seq in the SQLite file, behind the
// store's back.
func tamper(t testing.TB, st *servetest.Trail, seq int) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(st.Dir, trail.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE records SET body = CAST(replace(CAST(body AS TEXT), '"a14"', '"b14"') AS BLOB) WHERE seq = ?`, seq)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tamper: %d rows changed", n)
	}
}

func decode(resp *http.Response, v any) {
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
}

// Reading by classification: the committed values of a confidential
// record are shown to an admin and only their commitments to other roles,
// through every route that returns records.
func TestReadingByClassification(t *testing.T) {
	s := newServer(t, servetest.New(t), httpapi.Config{})
	code, b := s.do("POST", "/v1/records", "writer", strings.NewReader(`{"actor":"hr","action":"salary_change","target":"employee/42","target_type":"file","classification":"confidential","context":{"salary":"91234 EUR"}}`))
	if code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	var a httpapi.Appended
	json.Unmarshal(b, &a)
	id := a.RecordIDs[0]
	for _, path := range []string{"/v1/records/" + id, "/v1/records?action=salary_change", "/v1/records/" + id + "/proof"} {
		for role, shown := range map[string]bool{"admin": true, "reader": false, "writer": false, "verifier": false} {
			code, b := s.do("GET", path, role, nil)
			if code != 200 {
				t.Fatalf("%s as %s: %d %s", path, role, code, b)
			}
			if got := strings.Contains(string(b), "91234 EUR"); got != shown {
				t.Errorf("%s as %s: value shown %v, want %v: %s", path, role, got, shown, b)
			}
		}
	}
}
