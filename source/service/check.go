package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"
)

// CheckResult is the outcome of one check.
type CheckResult struct {
	Kind    string        `json:"kind"`
	Target  string        `json:"target"`
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"-"`
	Detail  string        `json:"detail,omitempty"` // "HTTP 500", "connection refused", "exit status 1"
}

// run performs one check within its timeout.
func (c Check) run(ctx context.Context, client *http.Client, dir string) CheckResult {
	res := CheckResult{Kind: c.Kind, Target: c.Target()}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var err error
	switch c.Kind {
	case "tcp":
		var d net.Dialer
		var conn net.Conn
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
		if err == nil {
			conn.Close()
		}
	case "http":
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
		if err == nil {
			var resp *http.Response
			resp, err = client.Do(req)
			if err == nil {
				resp.Body.Close()
				res.Detail = "HTTP " + strconv.Itoa(resp.StatusCode)
				ok := resp.StatusCode >= 200 && resp.StatusCode < 400
				if c.Status != 0 {
					ok = resp.StatusCode == c.Status
				}
				if !ok {
					err = errors.New(res.Detail)
				}
			}
		}
	case "command":
		cmd := exec.CommandContext(ctx, "sh", "-c", c.Command)
		cmd.Dir = dir
		cmd.WaitDelay = time.Second
		err = cmd.Run()
	default:
		err = fmt.Errorf("unknown check kind %q", c.Kind)
	}
	res.Latency = time.Since(start)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			res.Detail = "timed out after " + timeout.String()
		} else if res.Detail == "" {
			res.Detail = shortErr(err)
		}
		return res
	}
	res.OK = true
	return res
}

// shortErr keeps the end of a network error ("connection refused").
func shortErr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
