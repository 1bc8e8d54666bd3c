package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
	"github.com/ami-orchestrator/ami-audit/exporter/webhook"
)

// server is an HTTP receiver that checks the token and signature, counts
// the records it is given, and can be killed in the middle of a request.
type server struct {
	t         *testing.T
	addr      string
	got       exportertest.Received
	mu        sync.Mutex
	srv       *http.Server
	ln        net.Listener
	requests  int
	killAt    int // the request during which it dies (once)
	killed    chan struct{}
	lastBody  []byte
	lastHeads http.Header
}

func newServer(t *testing.T) *server {
	s := &server{t: t, addr: "127.0.0.1:0", killed: make(chan struct{})}
	s.start()
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *server) start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(s.handle)}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests++
	die := s.requests == s.killAt
	s.lastBody, s.lastHeads = body, r.Header.Clone()
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Ami-Audit-Signature") != "sha256="+webhook.Sign("sec", body) {
		http.Error(w, "who are you", http.StatusUnauthorized)
		return
	}
	var env struct {
		Records []struct {
			RecordID string `json:"record_id"`
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if die {
		// The batch arrived, and the server dies before answering. It
		// stops listening first: the client's transport may replay a
		// request with an Idempotency-Key at once on a new connection,
		// which a server still closing would take (a second repeat).
		s.mu.Lock()
		s.ln.Close()
		s.mu.Unlock()
		for _, rec := range env.Records {
			s.got.Add(rec.RecordID)
		}
		go func() { s.srv.Close(); close(s.killed) }()
		panic(http.ErrAbortHandler)
	}
	for _, rec := range env.Records {
		s.got.Add(rec.RecordID)
	}
}

// TestKilledMidStream: the server dies while taking a batch and comes back
// on the same port; every record arrives, and only that batch twice.
func TestKilledMidStream(t *testing.T) {
	const n = 3000
	st := exportertest.Store(t, n)
	s := newServer(t)
	s.killAt = 7
	go func() {
		<-s.killed
		time.Sleep(200 * time.Millisecond)
		s.start()
	}()
	e, err := webhook.New(webhook.Config{URL: "http://" + s.addr + "/hook/SECRETPATH", Token: "tok", Secret: "sec", LogID: "L"})
	if err != nil {
		t.Fatal(err)
	}
	var retryErrs []string
	run := &exporter.Runner{Store: st, Exporter: e, Dest: "http://" + s.addr, BatchSize: 200,
		OnRetry: func(err error, _ time.Duration) { retryErrs = append(retryErrs, err.Error()) }}
	res, err := run.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Exported != n {
		t.Fatalf("exported %d", res.Exported)
	}
	extra := s.got.Check(t, st, audit.Filter{}, 200)
	if extra != 200 || len(retryErrs) == 0 {
		t.Errorf("%d repeats and %d retries; want the one batch the dead server took, again", extra, len(retryErrs))
	}
	for _, m := range retryErrs {
		if strings.Contains(m, "SECRETPATH") {
			t.Errorf("an error shows the webhook's path: %s", m)
		}
	}
	if k := s.lastHeads.Get("Idempotency-Key"); !strings.HasPrefix(k, "L-") {
		t.Errorf("Idempotency-Key %q", k)
	}
}

// TestRefused: a 4xx answer is a permanent refusal, not retried forever.
func TestRefused(t *testing.T) {
	st := exportertest.Store(t, 10)
	s := newServer(t)
	e, _ := webhook.New(webhook.Config{URL: "http://" + s.addr + "/x", Token: "wrong", LogID: "L"})
	_, err := (&exporter.Runner{Store: st, Exporter: e, Dest: "x", Follow: true}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err %v", err)
	}
}

// TestSlack: the Slack payload is a text message, escaped, capped.
func TestSlack(t *testing.T) {
	recs := make([]*audit.Record, 45)
	for i := range recs {
		recs[i] = &audit.Record{Sequence: uint64(i), Severity: audit.SeverityError, Action: "deploy", Target: "<svc>", Actor: "a&b", Reason: "x\ny"}
	}
	e, _ := webhook.New(webhook.Config{URL: "https://hooks.example/T/B/C", Payload: webhook.PayloadSlack})
	b, err := e.Body(recs)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
		t.Fatalf("%s: %v", b, err)
	}
	text := m["text"]
	for _, want := range []string{"45 records (sequence 0–44)", "• [error] deploy &lt;svc&gt; by a&amp;b: x y", "… and 5 more"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "•") != webhook.MaxLines {
		t.Errorf("%d lines", strings.Count(text, "•"))
	}
}
