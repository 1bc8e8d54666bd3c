// Package httpapi is ami-audit's HTTP API: append records (one JSON object,
// or JSON lines appended atomically), read one, query with every filter and
// cursor pagination, verify (the chain, a range, a record, saved
// checkpoints), prove (inclusion and consistency), the latest checkpoint, a
// live feed of appended records (server-sent events) and health. Every
// request is authenticated with a bearer token (serve/token) and allowed
// by the token's role; each token has its own rate limit; request bodies
// are limited in size. Errors are JSON with stable codes (Error). The
// OpenAPI document of the routes is served at /openapi.json.
//
// Handlers parse their input and call serve.Service, which calls the same
// library functions as the command line.
package httpapi

import (
	_ "embed"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/token"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI is the OpenAPI 3.1 document of the routes.
func OpenAPI() []byte { return openAPI }

// Defaults of Config.
const (
	DefaultMaxBody  = 16 << 20
	DefaultRate     = 1000 // requests per second per token
	DefaultBurst    = 2000
	DefaultFeedPoll = 250 * time.Millisecond
)

// Config configures the API.
type Config struct {
	Service *serve.Service
	Tokens  *token.Set
	// MaxBody is the largest request body accepted, in bytes (0:
	// DefaultMaxBody).
	MaxBody int64
	// Rate and Burst limit each token's requests (0: the defaults;
	// negative Rate: no limit).
	Rate  float64
	Burst int
	// FeedPoll is how often the live feed reads the store when nothing
	// announces appends (0: DefaultFeedPoll).
	FeedPoll time.Duration
	// Logger receives the errors of requests that failed on the server's
	// side (nil: discarded). Tokens never reach it.
	Logger *slog.Logger
}

// API is the HTTP handler.
type API struct {
	cfg  Config
	svc  *serve.Service
	log  *slog.Logger
	mux  *http.ServeMux
	lim  *limiters
	rts  []Route
	auth func(string) (token.Identity, error)
}

// Route is one route of the API: what OpenAPI documents and the handler
// serves.
type Route struct {
	Method, Pattern string
	Need            token.Permission
	handle          func(a *API, w http.ResponseWriter, r *http.Request, who token.Identity)
}

// routes lists every route of the API: the one place a route is added.
func routes() []Route {
	return []Route{
		{"GET", "/v1/health", token.Read, (*API).health},
		{"GET", "/openapi.json", token.Read, (*API).openapi},
		{"POST", "/v1/records", token.Append, (*API).appendRecords},
		{"GET", "/v1/records", token.Read, (*API).query},
		{"GET", "/v1/records/{id}", token.Read, (*API).get},
		{"GET", "/v1/records/{id}/proof", token.Read, (*API).proveInclusion},
		{"GET", "/v1/proofs/consistency", token.Read, (*API).proveConsistency},
		{"GET", "/v1/checkpoint", token.Read, (*API).checkpoint},
		{"POST", "/v1/verify", token.Verify, (*API).verify},
		{"GET", "/v1/feed", token.Read, (*API).feed},
	}
}

// Routes lists the API's routes.
func (a *API) Routes() []Route { return slices.Clone(a.rts) }

// New returns the API of cfg.
func New(cfg Config) *API {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.FeedPoll <= 0 {
		cfg.FeedPoll = DefaultFeedPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, svc: cfg.Service, log: cfg.Logger, mux: http.NewServeMux(), rts: routes(),
		lim: newLimiters(cfg.Rate, cfg.Burst), auth: cfg.Tokens.Authenticate}
	byPath := map[string][]Route{}
	var order []string
	for _, rt := range a.rts {
		if _, ok := byPath[rt.Pattern]; !ok {
			order = append(order, rt.Pattern)
		}
		byPath[rt.Pattern] = append(byPath[rt.Pattern], rt)
	}
	for _, p := range order {
		a.mux.Handle(p, a.dispatch(byPath[p]))
	}
	a.mux.Handle("/", a.authenticated(func(w http.ResponseWriter, r *http.Request, _ token.Identity) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no route "+r.URL.Path+" (see /openapi.json)")
	}))
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// dispatch serves the routes of one path: authenticated first, then the
// method, then the permission.
func (a *API) dispatch(rts []Route) http.Handler {
	var allow []string
	for _, rt := range rts {
		allow = append(allow, rt.Method)
	}
	return a.authenticated(func(w http.ResponseWriter, r *http.Request, who token.Identity) {
		i := slices.IndexFunc(rts, func(rt Route) bool {
			return rt.Method == r.Method || (rt.Method == "GET" && r.Method == "HEAD")
		})
		if i < 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, " or "))
			return
		}
		rt := rts[i]
		if err := serve.Allow(who, rt.Need); err != nil {
			writeError(w, http.StatusForbidden, CodeForbidden, "token "+who.Name+" ("+string(who.Role)+") may not "+string(rt.Need)+": "+rt.Method+" "+rt.Pattern+" needs a role that may "+string(rt.Need))
			return
		}
		rt.handle(a, w, r, who)
	})
}

// authenticated checks the bearer token and the token's rate limit.
func (a *API) authenticated(next func(http.ResponseWriter, *http.Request, token.Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			authError(w, errMissing)
			return
		}
		who, err := a.auth(strings.TrimSpace(tok))
		if err != nil {
			authError(w, err)
			return
		}
		if !a.lim.allow(who.ID) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, CodeRateLimited, "too many requests for token "+who.Name+"; slow down")
			return
		}
		next(w, r, who)
	})
}

type missingError struct{}

func (missingError) Error() string {
	return "authentication required: send Authorization: Bearer TOKEN (ami-audit token create)"
}

var errMissing = missingError{}

// limiters holds one rate limiter per token.
type limiters struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

func newLimiters(r float64, burst int) *limiters {
	l := &limiters{rate: rate.Limit(r), burst: burst, m: map[string]*rate.Limiter{}}
	if r < 0 {
		l.rate = rate.Inf
	}
	return l
}

func (l *limiters) allow(id string) bool {
	if l.rate == rate.Inf {
		return true
	}
	l.mu.Lock()
	lim := l.m[id]
	if lim == nil {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[id] = lim
	}
	l.mu.Unlock()
	return lim.Allow()
}
