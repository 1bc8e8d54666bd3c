package email_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
	"github.com/ami-orchestrator/ami-audit/exporter/email"
	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
)

// mailServer is an SMTP server (go-smtp) that reads each message's
// attachment back, and can die while taking one.
type mailServer struct {
	t      *testing.T
	addr   string
	got    exportertest.Received
	mu     sync.Mutex
	srv    *smtp.Server
	n      int
	killAt int
	killed chan struct{}
	ids    []string
	subj   []string
}

func (s *mailServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct{ s *mailServer }

func (*session) Reset()                                    {}
func (*session) Logout() error                             { return nil }
func (*session) Mail(string, *smtp.MailOptions) error      { return nil }
func (*session) Rcpt(to string, _ *smtp.RcptOptions) error { return nil }

func (ss *session) Data(r io.Reader) error {
	s := ss.s
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	ids, err := attachmentIDs(m)
	if err != nil {
		s.t.Errorf("message: %v", err)
		return err
	}
	s.mu.Lock()
	s.n++
	die := s.n == s.killAt
	s.ids = append(s.ids, m.Header.Get("Message-Id"))
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	s.subj = append(s.subj, subj)
	s.mu.Unlock()
	for _, id := range ids {
		s.got.Add(id)
	}
	if die {
		// taken, but the server dies before saying so
		go func() { s.srv.Close(); close(s.killed) }()
		time.Sleep(100 * time.Millisecond)
		return errors.New("dying")
	}
	return nil
}

func attachmentIDs(m *mail.Message) ([]string, error) {
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil, errors.New("no attachment")
		}
		if !strings.HasSuffix(p.FileName(), ".jsonl") {
			continue
		}
		var r io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		var ids []string
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				RecordID string `json:"record_id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				return nil, err
			}
			ids = append(ids, rec.RecordID)
		}
		return ids, sc.Err()
	}
}

func (s *mailServer) start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// TestKilledMidStream: the server dies while taking a message and comes
// back; every record is mailed, and only that batch twice, under the same
// Message-ID.
func TestKilledMidStream(t *testing.T) {
	const n = 600
	st := exportertest.Store(t, n)
	s := &mailServer{t: t, addr: "127.0.0.1:0", killAt: 3, killed: make(chan struct{})}
	s.start()
	t.Cleanup(func() { s.srv.Close() })
	go func() {
		<-s.killed
		time.Sleep(200 * time.Millisecond)
		s.start()
	}()
	e, err := email.New(email.Config{Address: s.addr, Security: email.None, From: "audit@example.com", To: []string{"ops@example.com"}, LogID: "L"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&exporter.Runner{Store: st, Exporter: e, Dest: s.addr, BatchSize: 100}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Exported != n {
		t.Fatalf("exported %d", res.Exported)
	}
	extra := s.got.Check(t, st, audit.Filter{}, 100)
	if extra != 100 {
		t.Errorf("%d repeats; want the batch the dying server took", extra)
	}
	if len(s.ids) != 7 || s.ids[2] != s.ids[3] || s.ids[2] != "<L.200-299@ami-audit>" {
		t.Errorf("message ids %q", s.ids)
	}
	if !strings.HasPrefix(s.subj[0], "ami-audit: 100 records, up to critical (sequence 0–99)") {
		t.Errorf("subject %q", s.subj[0])
	}
}

// TestStartTLSRequired: by default the exporter refuses a server that does
// not offer STARTTLS rather than send in the clear.
func TestStartTLSRequired(t *testing.T) {
	st := exportertest.Store(t, 5)
	s := &mailServer{t: t, addr: "127.0.0.1:0", killed: make(chan struct{})}
	s.start()
	t.Cleanup(func() { s.srv.Close() })
	e, _ := email.New(email.Config{Address: s.addr, From: "a@example.com", To: []string{"b@example.com"}, Username: "u", Password: "hunter2"})
	_, err := (&exporter.Runner{Store: st, Exporter: e, Dest: s.addr, Retries: 1, Sleep: func(context.Context, time.Duration) error { return nil }}).Run(context.Background())
	if err == nil || s.got.Total() != 0 {
		t.Fatalf("sent in the clear: err %v, %d received", err, s.got.Total())
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the password is in the error: %v", err)
	}
}
