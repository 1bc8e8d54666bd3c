package trail

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// ManifestHeader is the first line of every evidence packet manifest the
// log key signs. A checkpoint's first line is the log's origin and its
// second a decimal size; a manifest's second line is "origin …", so no
// manifest can be read as a checkpoint, nor a checkpoint as a manifest.
const ManifestHeader = "ami-audit evidence packet v1"

// SignManifest signs an evidence packet's manifest with the log key: a
// signed note whose text must start with ManifestHeader and "origin " and
// this log's origin. The caller verifies the trail first; nothing but a
// manifest is signed this way.
func (t *Trail) SignManifest(text string) ([]byte, error) {
	if t.key == nil {
		return nil, fmt.Errorf("%w: an evidence packet's manifest is signed by the log key", ErrNoPrivateKey)
	}
	want := ManifestHeader + "\norigin " + t.id.Origin + "\n"
	if !strings.HasPrefix(text, want) || !strings.HasSuffix(text, "\n") {
		return nil, errors.New("not an evidence packet manifest of this log")
	}
	return note.Sign(&note.Note{Text: text}, t.key.Signer)
}
