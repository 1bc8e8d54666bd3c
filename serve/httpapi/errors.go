package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/jsonl"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/token"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Error codes: stable names clients may test, one per kind of failure.
const (
	CodeUnauthenticated    = "unauthenticated"     // 401: no bearer token, or one that does not match
	CodeTokenExpired       = "token_expired"       // 401
	CodeTokenRevoked       = "token_revoked"       // 401
	CodeForbidden          = "forbidden"           // 403: the token's role does not allow it
	CodeNotFound           = "not_found"           // 404: no such record or route
	CodeMethodNotAllowed   = "method_not_allowed"  // 405
	CodeInvalidRequest     = "invalid_request"     // 400: a parameter or body is wrong
	CodeInvalidRecord      = "invalid_record"      // 400: a record of the body is wrong (nothing appended)
	CodeDuplicateID        = "duplicate_id"        // 409: a record id already in the trail (nothing appended)
	CodeBodyTooLarge       = "body_too_large"      // 413
	CodeRateLimited        = "rate_limited"        // 429
	CodeVerificationFailed = "verification_failed" // 409: the trail does not verify, so nothing is proven or signed
	CodeNoLogKey           = "no_log_key"          // 503: the server cannot sign the trail's heads
	CodeInternal           = "internal"            // 500
)

// Error is the body of every error response.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what failed.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Line and Record name the line and the record (1-based) of a body
	// that was refused.
	Line   int    `json:"line,omitempty"`
	Record int    `json:"record,omitempty"`
	Field  string `json:"field,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{ErrorBody{Code: code, Message: msg}})
}

// recordError says which record of a body was refused.
type recordError struct {
	line, record int
	err          error
}

func (e *recordError) Error() string { return e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// fail writes err as the error response its kind calls for.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	body := ErrorBody{Message: err.Error()}
	if h, ok := usererr.HintOf(err); ok {
		body.Hint = h
	}
	var re *recordError
	if errors.As(err, &re) {
		body.Line, body.Record = re.line, re.record
	}
	var le *jsonl.LineError
	if errors.As(err, &le) && body.Line == 0 {
		body.Line = le.Line
	}
	var fe *audit.FieldError
	if errors.As(err, &fe) {
		body.Field = fe.Field
	}
	var mbe *http.MaxBytesError
	var be *ledger.BatchError
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &mbe):
		status, body.Code = http.StatusRequestEntityTooLarge, CodeBodyTooLarge
	case errors.Is(err, serve.ErrForbidden):
		status, body.Code = http.StatusForbidden, CodeForbidden
	case errors.Is(err, audit.ErrNotFound):
		status, body.Code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, audit.ErrDuplicateID):
		status, body.Code = http.StatusConflict, CodeDuplicateID
	case errors.Is(err, ledger.ErrTampered):
		status, body.Code = http.StatusConflict, CodeVerificationFailed
	case re != nil, le != nil, errors.As(err, &be), fe != nil:
		status, body.Code = http.StatusBadRequest, CodeInvalidRecord
	case usererr.IsUsage(err), errors.Is(err, trail.ErrOptions):
		status, body.Code = http.StatusBadRequest, CodeInvalidRequest
	case errors.Is(err, store.ErrNoLogKey), errors.Is(err, trail.ErrNoPrivateKey):
		status, body.Code = http.StatusServiceUnavailable, CodeNoLogKey
	case r.Context().Err() != nil:
		return // the client went away
	}
	if status == http.StatusInternalServerError {
		body.Code = CodeInternal
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, Error{body})
}

// authError is the response to a token that does not authenticate.
func authError(w http.ResponseWriter, err error) {
	code := CodeUnauthenticated
	switch {
	case errors.Is(err, token.ErrExpired):
		code = CodeTokenExpired
	case errors.Is(err, token.ErrRevoked):
		code = CodeTokenRevoked
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ami-audit"`)
	writeError(w, http.StatusUnauthorized, code, err.Error())
}
