package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/packet"
)

// runPacket writes the evidence packet of the period to path.
func (a *App) runPacket(ctx context.Context, f complianceFlags, path string) error {
	if err := a.checkOutput(path); err != nil {
		return err
	}
	tr, res, err := a.buildReport(ctx, f, false)
	if err != nil {
		return err
	}
	if err := verified(res.Report); err != nil {
		return fmt.Errorf("no evidence packet of a trail that does not verify: %w", err)
	}
	since, until, _ := f.period(res.Report.Generated)
	var sum *packet.Summary
	err = writeAtomic(path, func(file *os.File) error {
		var err error
		sum, err = packet.Build(ctx, tr, packet.Options{Report: res.Report, Since: since, Until: until, Trusted: f.trusted, Now: res.Report.Generated}, file)
		return err
	})
	if err != nil {
		return a.trailError(err)
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "evidence packet written to %s: %s with their inclusion proofs in the checkpoint of size %d (%d bytes of proofs), %s\n",
			path, plural.Count(sum.Records, "record"), sum.CheckpointSize, sum.ProofBytes, plural.Count(len(sum.Files), "file"))
		fmt.Fprintf(a.stderr, "check it anywhere with: ami-audit verify --packet %s --key log.pub\n", path)
	}
	return nil
}

// verifyPacket checks an evidence packet with nothing else.
func (a *App) verifyPacket(path, format string) error {
	var key note.Verifier
	if a.pubKey != "" {
		v, err := keys.LoadVerifier(a.pubKey)
		if err != nil {
			return err
		}
		key = v
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	res, err := packet.Verify(f, fi.Size(), key)
	if errors.Is(err, packet.ErrNotPacket) {
		return usageError{fmt.Errorf("%s: %w", path, err)}
	}
	if format == "json" {
		out := map[string]any{"ok": err == nil, "packet": path, "result": res}
		if err != nil {
			out["error"] = err.Error()
			var pf *packet.Failure
			if errors.As(err, &pf) {
				out["file"] = pf.File
			}
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(a.stdout, "%s\n", b)
	} else if res != nil {
		for _, c := range res.Checks {
			fmt.Fprintf(a.stdout, "ok    %s\n", c)
		}
	}
	if err != nil {
		if format != "json" {
			fmt.Fprintf(a.stdout, "FAIL  %v\n", err)
		}
		if errors.Is(err, ledger.ErrTampered) {
			return verifyError{fmt.Errorf("%s: %w", path, err)}
		}
		return err
	}
	if format != "json" {
		fmt.Fprintf(a.stdout, "\nThe packet is intact: %s of %s, proven in its checkpoint of size %d.\n", plural.Count(res.Records, "record"), res.Origin, res.CheckpointSize)
		if key == nil {
			fmt.Fprintf(a.stdout, "It is signed by %s: compare this with the log key's fingerprint you obtained from the operator (or give the key with --key).\n", res.KeyFingerprint)
		}
	}
	return nil
}
