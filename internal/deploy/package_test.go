package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/omsdev/oms/internal/omserr"
)

func writeTarGz(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryFromPackage(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "oms-v1-linux-amd64.tar.gz")
	writeTarGz(t, good, map[string]string{
		"oms-v1-linux-amd64/README.md":               "readme",
		"oms-v1-linux-amd64/conf/seed-hangzhou.yaml": "x: 1",
		"oms-v1-linux-amd64/bin/oms":                 "#!binary",
	})
	bin, err := BinaryFromPackage(good, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bin); string(b) != "#!binary" {
		t.Fatalf("extracted %q", b)
	}
	if st, _ := os.Stat(bin); st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("not executable: %v", st.Mode())
	}
	if !IsPackage(good) || IsPackage("/usr/local/bin/oms") {
		t.Fatal("IsPackage")
	}

	noBin := filepath.Join(dir, "nobin.tar.gz")
	writeTarGz(t, noBin, map[string]string{"pkg/README.md": "r", "pkg/lib/deep/bin/oms": "nested too deep"})
	notGzip := filepath.Join(dir, "plain.tar.gz")
	os.WriteFile(notGzip, []byte("not gzip"), 0o644)
	for _, c := range []struct{ pkg, want string }{
		{noBin, "holds no bin/oms"},
		{notGzip, "not a gzip file"},
		{filepath.Join(dir, "missing.tar.gz"), "cannot open it"},
	} {
		_, err := BinaryFromPackage(c.pkg, t.TempDir())
		if omserr.CodeOf(err) != "DEPLOY_PACKAGE_INVALID" || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%s: want %q, got %v", c.pkg, c.want, err)
		}
	}
}
