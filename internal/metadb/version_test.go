package metadb

import (
	"testing"

	"github.com/omsdev/oms/internal/buildinfo"
)

// A `git describe` after a tag (v0.1.0-160-gfcc0243-dirty) plus the commit overflowed the
// migrations table's VARCHAR(64) and failed `oms metadb init` on the first migration.
func TestBinaryVersionFitsItsColumn(t *testing.T) {
	old := buildinfo.Version
	t.Cleanup(func() { buildinfo.Version = old })
	for _, v := range []string{"dev", "v0.1.0-160-gfcc0243-dirty", "v0.1.0-160-gfcc0243-dirty-with-a-very-long-suffix-beyond-any-column"} {
		buildinfo.Version = v
		if got := binaryVersion(); len(got) > 64 || got == "" {
			t.Errorf("version %q recorded as %q (%d bytes, column holds 64)", v, got, len(got))
		}
	}
}
