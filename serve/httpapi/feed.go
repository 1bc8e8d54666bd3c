package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/token"
	"github.com/ami-orchestrator/ami-audit/trail"
)

func rootText(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// heartbeat is how often the feed writes a comment when no record comes,
// so that proxies keep the connection and clients see it alive.
const heartbeat = 15 * time.Second

// feed streams the records matching the filters as they are appended, as
// server-sent events: "event: record", the record's sequence as the event
// id and the record as data. It starts after the last event id a
// reconnecting client sends (Last-Event-ID), else at from=SEQ, else with
// the records appended from now on.
func (a *API) feed(w http.ResponseWriter, r *http.Request, who token.Identity) {
	q, err := params(r, append(filterParams, "from")...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := filterOf(q, false)
	if err == nil {
		err = f.Validate()
	}
	if err != nil {
		a.fail(w, r, usererr.Usage(err))
		return
	}
	ctx := r.Context()
	from, ok, err := uintParam(q, "from")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		seq, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			a.fail(w, r, usererr.Usagef("Last-Event-ID %q: not an event id of this feed", last))
			return
		}
		from, ok = seq+1, true
	}
	store := a.svc.Trail().Store()
	if !ok {
		h, err := store.Head(ctx)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		from = h.Size
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": ami-audit feed of %s from sequence %d\n\n", a.svc.Trail().Identity().Origin, from)
	if flusher != nil {
		flusher.Flush()
	}
	// Records come from the follower's goroutine; this one writes them,
	// and a heartbeat when none comes.
	recs := make(chan *audit.Record)
	done := make(chan error, 1)
	go func() {
		done <- trail.Follow(ctx, store, trail.FollowOptions{From: from, Filter: f, Poll: a.cfg.FeedPoll}, func(rec *audit.Record) error {
			select {
			case recs <- rec:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	write := func(rec *audit.Record) error {
		v, err := a.svc.Show(ctx, who, rec)
		if errors.Is(err, serve.ErrForbidden) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "id: %d\nevent: record\ndata: %s\n\n", rec.Sequence, b)
		return err
	}
	for err == nil {
		select {
		case rec := <-recs:
			err = write(rec)
		case <-beat.C:
			_, err = fmt.Fprint(w, ": alive\n\n")
		case err = <-done:
			if err == nil {
				return
			}
		case <-ctx.Done():
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	if err != nil && ctx.Err() == nil {
		a.log.Error("feed", "err", err)
		fmt.Fprintf(w, "event: error\ndata: %q\n\n", err.Error())
	}
}
