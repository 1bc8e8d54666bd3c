// Package serve is what the served front ends of ami-audit — the HTTP API
// (serve/httpapi) and the MCP server (serve/mcpserver) — share: a trail
// held open for appending, who is asking (serve/token), what each caller
// may see of a record (View), appends that record the authenticated
// identity, paged queries, and paths confined to the repository served.
// Handlers parse their input and call these methods; the work itself is
// done by the library packages the command line uses too (trail, collect).
package serve

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/disclose"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/secrets"
	"github.com/ami-orchestrator/ami-audit/serve/token"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// MetaCaller is the metadata member every record appended through a
// server carries: the caller the server authenticated (its token's id,
// name and role, and the front end: "http"), beside the actor the record
// claims. A record given with this member is refused, so a caller cannot
// claim another identity. (The name is plain on purpose: members named
// like credentials cost every record the masking step's slow path.)
const MetaCaller = "caller"

// View turns records read from the store into what the caller may see of
// them. It is the one function every handler passes records through
// before they leave the server (get, query, the live feed, proofs,
// reports): reading by classification is decided here. It may yield
// records with values masked; a record it does not yield is not shown.
type View func(ctx context.Context, who token.Identity, seq iter.Seq2[*audit.Record, error]) iter.Seq2[*audit.Record, error]

// Disclose is the View of package disclose: each caller sees the committed
// (confidential) values of the classifications access allows it, and
// their commitments otherwise.
func Disclose(t *trail.Trail, access func(token.Identity) disclose.Access) View {
	return func(ctx context.Context, who token.Identity, seq iter.Seq2[*audit.Record, error]) iter.Seq2[*audit.Record, error] {
		vr, _ := t.Store().(ledger.ValueReader)
		return disclose.Records(ctx, vr, access(who), seq)
	}
}

// AccessByRole is the default access of callers: an admin sees every
// committed value, other roles see commitments only.
func AccessByRole(who token.Identity) disclose.Access {
	if who.Role == token.Admin {
		return disclose.Everything
	}
	return disclose.None
}

// ErrForbidden: the caller's role does not allow the operation.
var ErrForbidden = errors.New("not allowed for this token's role")

// Config says what a Service serves.
type Config struct {
	// Trail is the trail, open for appending; the Service uses it until
	// it is closed by whoever opened it.
	Trail *trail.Trail
	// Detector is the masking step of every record appended.
	Detector *secrets.Detector
	// Root is the repository served: every path a caller gives must be
	// inside it.
	Root string
	// View decides what callers see of records (nil: Disclose with
	// AccessByRole).
	View View
	// EngineHosts are the container engine endpoints of the service
	// checks (nil: the docker and podman sockets).
	EngineHosts []string
}

// Service serves one trail. It is safe for concurrent use.
type Service struct {
	cfg  Config
	env  *collect.Env
	root string // Root, resolved
}

// New returns the service of cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Trail == nil || cfg.Detector == nil {
		return nil, errors.New("serve: a trail and a detector are needed")
	}
	if cfg.View == nil {
		cfg.View = Disclose(cfg.Trail, AccessByRole)
	}
	root, err := resolveRoot(cfg.Root)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, env: collect.ForTrail(cfg.Trail, cfg.Detector), root: root}, nil
}

// Trail is the trail served.
func (s *Service) Trail() *trail.Trail { return s.cfg.Trail }

// Env is the collections' environment of the trail served.
func (s *Service) Env() *collect.Env { return s.env }

// Root is the repository served (absolute, symbolic links resolved).
func (s *Service) Root() string { return s.root }

// EngineHosts are the container engine endpoints of service checks.
func (s *Service) EngineHosts() []string { return s.cfg.EngineHosts }

// Allow returns an error wrapping ErrForbidden unless who may do p.
func Allow(who token.Identity, p token.Permission) error {
	if !who.Role.Allows(p) {
		return fmt.Errorf("%w: %s may not %s", ErrForbidden, who.Role, p)
	}
	return nil
}

// Show passes one record through the View; the error wraps ErrForbidden
// when the caller may not see it.
func (s *Service) Show(ctx context.Context, who token.Identity, r *audit.Record) (*audit.Record, error) {
	for v, err := range s.cfg.View(ctx, who, func(yield func(*audit.Record, error) bool) { yield(r, nil) }) {
		return v, err
	}
	return nil, fmt.Errorf("%w: record %s", ErrForbidden, r.RecordID)
}

// Records passes the records of seq through the View.
func (s *Service) Records(ctx context.Context, who token.Identity, seq iter.Seq2[*audit.Record, error]) iter.Seq2[*audit.Record, error] {
	return s.cfg.View(ctx, who, seq)
}

// Get returns the record with id (any spelling of its UUID), as the caller
// may see it.
func (s *Service) Get(ctx context.Context, who token.Identity, id string) (*audit.Record, error) {
	c, ok := audit.CanonicalID(id)
	if !ok {
		return nil, usererr.Usagef("%q is not a record id (a UUID such as 01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4e5f)", id)
	}
	r, err := s.cfg.Trail.Store().Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.Show(ctx, who, r)
}

// Page is one page of a query: the records and, when there may be more,
// the cursor of the next page.
type Page struct {
	Records []*audit.Record `json:"records"`
	Next    string          `json:"next_cursor,omitempty"`
}

// MaxPage is the most records one page holds.
const MaxPage = 1000

// Query returns the page of records matching f (limit 1..MaxPage; 0:
// audit.DefaultLimit) that follows cursor ("" for the first page).
func (s *Service) Query(ctx context.Context, who token.Identity, f audit.Filter, cursor string) (*Page, error) {
	switch {
	case f.Limit == 0:
		f.Limit = audit.DefaultLimit
	case f.Limit < 0 || f.Limit > MaxPage:
		return nil, usererr.Usagef("limit %d: give 1 to %d (page with the cursor for more)", f.Limit, MaxPage)
	}
	if cursor != "" {
		seq, err := decodeCursor(cursor)
		if err != nil {
			return nil, err
		}
		if f.Newest {
			if seq == 0 {
				return &Page{Records: []*audit.Record{}}, nil
			}
			f.BeforeSequence = min(seq, nonZero(f.BeforeSequence, seq))
		} else {
			f.FromSequence = max(seq, f.FromSequence)
		}
	}
	if err := f.Validate(); err != nil {
		return nil, usererr.Usage(err)
	}
	page := &Page{Records: []*audit.Record{}}
	var last *audit.Record
	n := 0
	read := func(yield func(*audit.Record, error) bool) {
		for r, err := range s.cfg.Trail.Store().Query(ctx, f) {
			if err == nil {
				last = r
				n++
			}
			if !yield(r, err) {
				return
			}
		}
	}
	for v, err := range s.Records(ctx, who, read) {
		if err != nil {
			return nil, err
		}
		page.Records = append(page.Records, v)
	}
	// A full page may have a next one (an empty next page ends it).
	if last != nil && n == f.Limit {
		next := last.Sequence + 1
		if f.Newest {
			next = last.Sequence
		}
		if !f.Newest || next > 0 {
			page.Next = encodeCursor(next)
		}
	}
	return page, nil
}

func nonZero(v, or uint64) uint64 {
	if v == 0 {
		return or
	}
	return v
}

// A cursor is the sequence number a page starts from (oldest first) or
// before (newest first), opaque to callers.
func encodeCursor(seq uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(c string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 8 {
		return 0, usererr.Usagef("cursor %q: not a cursor this server gave", c)
	}
	return binary.BigEndian.Uint64(b), nil
}

// Stamp records the authenticated identity in r's metadata; a record that
// already claims one is refused.
func Stamp(r *audit.Record, who token.Identity, via string) error {
	if _, ok := r.Metadata[MetaCaller]; ok {
		return usererr.Usage(&audit.FieldError{Field: "metadata." + MetaCaller, Msg: "is set by the server from the caller's token; leave it out"})
	}
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	r.Metadata[MetaCaller] = map[string]any{"id": who.ID, "name": who.Name, "role": string(who.Role), "via": via}
	return nil
}

// Append appends one record given by who, stamped with who's identity and
// masked; concurrent appends share the store's group commit.
func (s *Service) Append(ctx context.Context, who token.Identity, via string, r *audit.Record) error {
	if err := Allow(who, token.Append); err != nil {
		return err
	}
	if err := Stamp(r, who, via); err != nil {
		return err
	}
	return collect.AppendRecord(ctx, s.env, r, nil)
}

// AppendAll appends every record seq yields, stamped and masked,
// atomically: all of them, or — when seq yields an error or a record is
// refused — none. It returns the ids appended.
func (s *Service) AppendAll(ctx context.Context, who token.Identity, via string, seq iter.Seq2[*audit.Record, error]) ([]string, error) {
	if err := Allow(who, token.Append); err != nil {
		return nil, err
	}
	var ids []string
	stamped := func(yield func(*audit.Record, error) bool) {
		for r, err := range seq {
			if err == nil {
				err = Stamp(r, who, via)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(r, nil) {
				return
			}
		}
	}
	_, err := collect.AppendRecords(ctx, s.env, stamped, nil, func(r *audit.Record) { ids = append(ids, r.RecordID) })
	if err != nil {
		return nil, err
	}
	return ids, nil
}
