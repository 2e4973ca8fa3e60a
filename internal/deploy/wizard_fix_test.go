package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/config"
)

// The audit file proposed for an installation directory with {ip} holds no literal {ip}.
func TestWizardAuditDefaultWithoutIPPlaceholder(t *testing.T) {
	var tr strings.Builder
	w := NewWizard(NewPrompter(strings.NewReader(lines("y", "file", "", "y")), &tr), WizardOptions{InstallDir: "/srv/oms/{ip}"})
	if err := w.auditSection(); err != nil {
		t.Fatal(err)
	}
	if w.shared.AuditFile != "/srv/oms/logs/audit.log" || strings.Contains(tr.String(), "{ip}") {
		t.Fatalf("audit file %q\n%s", w.shared.AuditFile, tr.String())
	}
	for dir, want := range map[string]string{"/home/oms": "/home/oms/logs/audit.log", "/a/{ip}/b": "/a/b/logs/audit.log"} {
		if got := defaultAuditFile(dir); got != want {
			t.Errorf("defaultAuditFile(%q) = %q, want %q", dir, got, want)
		}
	}
}

// After "n" to "settings correct?", the cm_region_cn default follows the new region ID (it was
// not set apart from it), and a cm_region_cn differing from cm_region is warned about.
func TestWizardRegionCNFollowsRegion(t *testing.T) {
	in := lines(
		"cn-a", "", "10.1.0.100:8088", "10.1.0.1", "1", "", "n", // first answers, then not correct
		"cn-b", "", "", "", "", "", "y", // new region ID: cm_region_cn proposed cn-b
	)
	var tr strings.Builder
	w := NewWizard(NewPrompter(strings.NewReader(in), &tr), WizardOptions{})
	w.prefix, w.regions = "oms", make([]config.Config, 1)
	if err := w.clusterSection(context.Background(), 0, false); err != nil {
		t.Fatalf("%v\n%s", err, tr.String())
	}
	if r := w.regions[0]; r.CMRegion != "cn-b" || r.CMRegionCN != "cn-b" {
		t.Fatalf("region %s cn %s\n%s", r.CMRegion, r.CMRegionCN, tr.String())
	}
	if !strings.Contains(tr.String(), "cm_region_cn (the same as the region ID) [cn-b]") {
		t.Fatalf("the cm_region_cn default did not follow:\n%s", tr.String())
	}

	tr.Reset()
	w = NewWizard(NewPrompter(strings.NewReader(lines("cn-a", "hangzhou", "10.1.0.100:8088", "10.1.0.1", "1", "", "y")), &tr), WizardOptions{})
	w.prefix, w.regions = "oms", make([]config.Config, 1)
	if err := w.clusterSection(context.Background(), 0, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tr.String(), "warning: cm_region_cn hangzhou differs from cm_region cn-a") {
		t.Fatalf("no warning:\n%s", tr.String())
	}
}

// A package given at the binary question is unpacked (its bin/oms is what is installed), a
// broken one is refused with a message, and the unpacked folder is removed when the wizard ends.
func TestWizardBinaryQuestionTakesPackage(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", t.TempDir())
	pkg, broken := filepath.Join(dir, "oms-v2-linux-amd64.tar.gz"), filepath.Join(dir, "broken.tar.gz")
	writeTarGz(t, pkg, map[string]string{"oms-v2-linux-amd64/bin/oms": "#!v2"})
	os.WriteFile(broken, []byte("not gzip"), 0o644)
	bin := filepath.Join(dir, "oms")
	os.WriteFile(bin, []byte("#!v1"), 0o755)
	in := lines(
		"1", "1", "127.0.0.1", "3306", "root", "", "oms", "y",
		"cn-a", "", "10.1.0.100:8088", "10.1.0.1", "1", "", "y",
		"n", "n", "n", "secret123", "secret123",
		"", "n", broken, pkg, "y", "n", // node: dir, not this binary: a broken package, then a good one
	)
	var tr strings.Builder
	var installed string
	rec := &recorder{}
	w := NewWizard(NewPrompter(strings.NewReader(in), &tr), WizardOptions{HostIP: "10.1.0.1", Binary: bin, OutDir: dir,
		Deployer: deployerFunc{rec, func(n Node) { b, _ := os.ReadFile(n.Binary); installed = string(b) }}})
	if err := w.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, tr.String())
	}
	if installed != "#!v2" {
		t.Fatalf("installed %q, want the package's bin/oms\n%s", installed, tr.String())
	}
	if !strings.Contains(tr.String(), "not a gzip file") {
		t.Fatalf("the broken package is not refused with a message:\n%s", tr.String())
	}
	if left, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "oms-package-*")); len(left) != 0 {
		t.Fatalf("unpacked folders left behind: %v", left)
	}
}

// deployerFunc records like recorder and lets a test look at each node while it is installed.
type deployerFunc struct {
	*recorder
	onInstall func(Node)
}

func (d deployerFunc) InstallNode(ctx context.Context, n Node) error {
	d.onInstall(n)
	return d.recorder.InstallNode(ctx, n)
}
