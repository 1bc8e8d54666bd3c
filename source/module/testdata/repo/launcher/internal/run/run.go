// Package run starts services.
package run

import (
	"errors"

	"github.com/google/uuid"
)

// Start starts the named services.
func Start(names []string) error {
	if len(names) == 0 {
		return errors.New("no service named")
	}
	for _, n := range names {
		if n == "" {
			return errors.New("empty name")
		}
	}
	_ = uuid.New()
	return nil
}
