package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrGit is wrapped by every failure of the git program.
var ErrGit = errors.New("git failed")

// gitConfig neutralises user settings that would change the output the
// parsers read.
var gitConfig = []string{
	"-c", "core.quotePath=false",
	"-c", "log.showSignature=false",
	"-c", "log.showRoot=true",
	"-c", "diff.renames=true",
	"-c", "diff.relative=false",
	"-c", "color.ui=false",
}

func (s *Source) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.cfg.git(), append(append([]string{}, gitConfig...), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_PAGER=cat",
		"GIT_OPTIONAL_LOCKS=0",
		"GIT_ASKPASS=",
		"LC_ALL=C",
	)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// output runs git and returns its standard output.
func (s *Source) output(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := s.command(ctx, dir, args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, s.gitError(ctx, dir, args, err, &stderr)
	}
	return out, nil
}

// stream runs git, hands its standard output to read, and waits. When
// read returns early the process is stopped.
func (s *Source) stream(ctx context.Context, dir string, stdin io.Reader, args []string, read func(io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := s.command(ctx, dir, args...)
	cmd.Stdin = stdin
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: %v", ErrGit, err)
	}
	rerr := read(out)
	if rerr != nil {
		cancel()
	} else {
		// Drain what the reader left so git is not blocked writing.
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if rerr != nil {
		if werr != nil && stderr.Len() > 0 && errors.Is(rerr, ErrLogFormat) {
			return fmt.Errorf("%w (git said: %s)", rerr, stderr.String())
		}
		return rerr
	}
	if werr != nil {
		return s.gitError(ctx, dir, args, werr, &stderr)
	}
	return nil
}

func (s *Source) gitError(ctx context.Context, dir string, args []string, err error, stderr *tailBuffer) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = ee.String()
		}
		return fmt.Errorf("%w: git %s in %s: %s", ErrGit, firstArg(args), dir, msg)
	}
	return fmt.Errorf("%w: git %s in %s: %v", ErrGit, firstArg(args), dir, err)
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// tailBuffer keeps the last 4 KiB written to it: enough of git's stderr
// for an error message, bounded whatever git prints.
type tailBuffer struct{ b bytes.Buffer }

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > tailMax {
		p = p[len(p)-tailMax:]
	}
	if t.b.Len()+len(p) > tailMax {
		keep := t.b.Bytes()[t.b.Len()-(tailMax-len(p)):]
		keep = append([]byte(nil), keep...)
		t.b.Reset()
		t.b.Write(keep)
	}
	t.b.Write(p)
	return n, nil
}

func (t *tailBuffer) Len() int { return t.b.Len() }

func (t *tailBuffer) String() string {
	v, _ := Escape(strings.TrimSpace(t.b.String()))
	return v
}
