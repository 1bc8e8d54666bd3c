package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentProcesses runs several "ami-audit record" processes at once
// against one trail: the chain must verify and hold exactly every record.
func TestConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	ami := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("ami-audit", args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, errb.String())
		}
		return out.String(), err
	}
	if _, err := ami("", "init"); err != nil {
		t.Fatal(err)
	}
	const procs, each, batchLines = 6, 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var err error
				if i%2 == 0 {
					_, err = ami("", "record", "--actor", fmt.Sprintf("proc-%d", p), "--action", "append", "--target", fmt.Sprint(i), "--target-type", "file")
				} else {
					var lines strings.Builder
					for j := 0; j < batchLines; j++ {
						fmt.Fprintf(&lines, `{"actor":"proc-%d","action":"batch","target":"%d-%d","target_type":"file"}`+"\n", p, i, j)
					}
					_, err = ami(lines.String(), "record", "--from", "-")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := procs * (each/2 + each/2*batchLines)
	out, err := ami("", "verify")
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("chain        %d records", want)) {
		t.Fatalf("verify says\n%s\nwant %d records", out, want)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--audit-dir", dir + "/.audit", "export", "--format", "jsonl"}, nil, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != want {
		t.Fatalf("export has %d records, want %d", n, want)
	}
}
