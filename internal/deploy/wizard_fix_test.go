package deploy

import (
	"context"
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
