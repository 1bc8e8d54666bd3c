//go:build !unix

package trail

import "io/fs"

// foreignOwner is false where files have no Unix owner.
func foreignOwner(fs.FileInfo) bool { return false }
