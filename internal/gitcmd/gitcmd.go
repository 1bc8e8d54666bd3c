// Package gitcmd runs the git program for the analyzers that read a
// repository's working tree, with settings that keep its output stable and
// keep it from asking anything or taking locks.
package gitcmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Command returns git with args in dir. config are extra "-c" settings
// (name=value).
func Command(ctx context.Context, dir string, config []string, args ...string) *exec.Cmd {
	base := []string{"-c", "core.quotePath=false", "-c", "color.ui=false"}
	for _, c := range config {
		base = append(base, "-c", c)
	}
	cmd := exec.CommandContext(ctx, "git", append(base, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "GIT_OPTIONAL_LOCKS=0", "GIT_ASKPASS=", "LC_ALL=C")
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// Output runs git and returns its standard output; the error names git's
// complaint (the end of its standard error).
func Output(ctx context.Context, dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := Command(ctx, dir, nil, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return nil, fmt.Errorf("git %s in %s: %v: %s", args[0], dir, err, msg)
	}
	return out, nil
}
