// Command launch starts services.
package main

import (
	"fmt"
	"os"

	"github.com/ami-orchestrator/launcher/internal/run"
)

func main() {
	if err := run.Start(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
