package deploy

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/omsdev/oms/internal/omserr"
)

// IsPackage reports whether -d names an installation package (`make dist`'s
// oms-<version>-linux-amd64.tar.gz) rather than a bare binary.
func IsPackage(p string) bool {
	return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}

// maxBinaryBytes bounds what is extracted from a package: a binary larger than this is not ours.
const maxBinaryBytes = 512 << 20

// BinaryFromPackage extracts the package's <top>/bin/oms into dir and returns its path. Nothing
// else of the package is needed on the nodes: sample configs and the service unit are for
// people reading the package.
func BinaryFromPackage(pkg, dir string) (string, error) {
	bad := func(why string) error {
		return omserr.New(omserr.DeployPackageInvalid, fmt.Sprintf("-d %s: %s", pkg, why),
			"pass the oms-<version>-linux-amd64.tar.gz that `make dist` builds, or the oms binary itself")
	}
	f, err := os.Open(pkg)
	if err != nil {
		return "", bad("cannot open it: " + err.Error())
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", bad("not a gzip file")
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", bad("it holds no bin/oms")
		}
		if err != nil {
			return "", bad("unreadable tar archive: " + err.Error())
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || (name != "bin/oms" && !strings.HasSuffix(name, "/bin/oms")) || strings.Count(name, "/") > 2 {
			continue
		}
		if h.Size > maxBinaryBytes {
			return "", bad(fmt.Sprintf("its bin/oms is %d bytes, larger than any oms binary", h.Size))
		}
		out := filepath.Join(dir, "oms")
		tmp := out + ".tmp"
		w, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return "", fmt.Errorf("extract %s: %w", pkg, err)
		}
		if _, err := io.Copy(w, io.LimitReader(tr, maxBinaryBytes)); err != nil {
			w.Close()
			return "", bad("truncated archive: " + err.Error())
		}
		if err := w.Close(); err != nil {
			return "", fmt.Errorf("extract %s: %w", pkg, err)
		}
		return out, os.Rename(tmp, out)
	}
}
