package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv"
)

// registerRegion sets up a region in the MetaDB as an earlier `oms deploy` did, with its nodes
// registered as running nodes do, and drops its databases after the test.
func registerRegion(t *testing.T, inst *testenv.Instance, prefix string) config.Config {
	t.Helper()
	rm, cm, hb, _ := config.DatabaseNames(prefix, 1, true)
	c := config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root", RMDB: rm, CMDB: cm, HeartbeatDB: hb,
		CMURL: "http://10.1.0.100:8088", CMLocation: 1, CMRegion: "cn-hangzhou", CMRegionCN: "cn-hangzhou", CMIsDefault: true,
		CMNodes: []string{"10.1.0.1"}}
	t.Cleanup(func() {
		for _, d := range []string{rm, cm, hb, hb + "_2"} {
			inst.DB().Exec("DROP DATABASE IF EXISTS `" + d + "`")
		}
	})
	if _, err := SetupRegion(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.DB().Exec("INSERT INTO " + sqlgen.Table(cm, "hosts") + " (ip, region, cm_port, console_port, supervisor_port) VALUES ('10.1.0.1', 'cn-hangzhou', 8088, 8089, 9000)"); err != nil {
		t.Fatal(err)
	}
	return c
}

// The guide deploys region after region in separate runs: the second run reads the regions in
// the MetaDB, shows them, refuses their names, cm_location, nodes and heartbeat database,
// proposes the next free heartbeat database and a non-default region, deploys only the new
// region and keeps the first one in the cluster file.
func TestWizardAddsRegionInLaterRun(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	prefix := uniquePrefix()
	first := registerRegion(t, inst, prefix)
	dir := t.TempDir()
	bin := filepath.Join(dir, "oms")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	in := lines(
		"1", "1", // single region (switched to multiple: a region exists), no config file
		"127.0.0.1", itoaOr(inst.Port, ""), "root", "", prefix, "y", // MetaDB
		"y",                         // the databases exist: continue
		"cn-hangzhou", "cn-beijing", // region ID: the registered one refused
		"",       // cm_region_cn
		"1", "2", // cm_location: the registered one refused
		"10.1.0.100:8088", "10.2.0.100:8088", // the first region's VIP refused
		"10.1.0.1", "10.2.0.1", // the first region's node refused
		prefix+"_cm_hb", "", // heartbeat database: the first region's refused, the proposal taken
		"y", "", // cm_is_default: a second default refused, n proposed
		"y",      // settings correct
		"n", "n", // no monitoring, no audit
		"n",                      // modify nothing
		"secret123", "secret123", // admin
		"", "", "pw", "y", "n", // node 10.2.0.1
		"n", // no further region
	)
	var tr strings.Builder
	rec := &recorder{}
	w := NewWizard(NewPrompter(strings.NewReader(in), &tr), WizardOptions{
		Binary: bin, OutDir: dir, Probe: ProbeMetaDB, Registered: RegisteredRegions, Deployer: rec,
	})
	if err := w.Run(context.Background()); err != nil {
		t.Fatalf("wizard: %v\n%s", err, tr.String())
	}
	out := tr.String()
	for _, msg := range []string{
		"Regions already deployed (registered in the MetaDB): cn-hangzhou (cm_location 1, default)",
		"Continuing in multiple-regions mode.",
		"Existing regions: cn-hangzhou (cm_location 1)",
		"region cn-hangzhou already exists (cm_location 1)",
		"cm_location 1 is already used by region cn-hangzhou",
		"10.1.0.100:8088 is the CM URL of region cn-hangzhou",
		"10.1.0.1 is a node of region cn-hangzhou",
		prefix + "_cm_hb is the heartbeat database of region cn-hangzhou",
		"[" + prefix + "_cm_hb_2]",
		"region cn-hangzhou is already the default region; only one region may be: answer n",
		"OMS has been deployed in regions [cn-hangzhou,cn-beijing]",
	} {
		if !strings.Contains(out, msg) {
			t.Errorf("transcript lacks %q", msg)
		}
	}
	if len(rec.regions) != 1 || rec.regions[0].CMRegion != "cn-beijing" || len(rec.nodes) != 1 || rec.nodes[0].IP != "10.2.0.1" {
		t.Fatalf("deployed %+v, want only region cn-beijing with node 10.2.0.1", rec)
	}
	cl, err := config.LoadCluster(filepath.Join(dir, ClusterFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Err(); err != nil {
		t.Fatalf("cluster file: %v", err)
	}
	cs := cl.Configs()
	if len(cs) != 2 || cs[0].CMRegion != "cn-hangzhou" || !cs[0].CMIsDefault || strings.Join(cs[0].CMNodes, ",") != "10.1.0.1" ||
		cs[0].HeartbeatDB != first.HeartbeatDB || cs[1].CMRegion != "cn-beijing" || cs[1].CMIsDefault ||
		cs[1].HeartbeatDB != prefix+"_cm_hb_2" || cs[1].CMLocation != 2 {
		t.Fatalf("cluster file keeps both regions, the first unchanged: %+v", cs)
	}
	reg, err := RegisteredRegions(context.Background(), first)
	if err != nil || len(reg) != 1 {
		t.Fatalf("the recorder deploys nothing: MetaDB regions %+v, %v", reg, err)
	}
}

// `oms deploy -c` (and add-node, through the same check) refuses a cluster file whose new region
// contradicts a registered one before any host is touched.
func TestCheckClusterRefusesRegisteredConflicts(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	first := registerRegion(t, inst, uniquePrefix())
	dir := t.TempDir()
	bin := filepath.Join(dir, "oms")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	second := first
	second.CMRegion, second.CMRegionCN, second.CMURL, second.CMNodes = "cn-beijing", "cn-beijing", "http://10.2.0.100:8088", []string{"10.2.0.1"}
	second.HeartbeatDB = first.HeartbeatDB + "_2"
	cl := config.ParseCluster(config.FormatCluster([]config.Config{second}), "cluster.yaml")
	probs := CheckCluster(context.Background(), cl, Target{InstallDir: "/home/oms", HostIP: "10.2.0.1", Binary: bin, AdminPassword: "secret123"}, true)
	got := strings.Join(probs, "\n")
	for _, want := range []string{"region cn-beijing: ", "cm_location 1 is already used by region cn-hangzhou"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	second.CMLocation = 2
	cl = config.ParseCluster(config.FormatCluster([]config.Config{second}), "cluster.yaml")
	probs = CheckCluster(context.Background(), cl, Target{InstallDir: "/home/oms", HostIP: "10.2.0.1", Binary: bin, AdminPassword: "secret123"}, true)
	if got := strings.Join(probs, "\n"); !strings.Contains(got, "region cn-hangzhou is already the default region") {
		t.Errorf("a second default region passes the check:\n%s", got)
	}

	// A file of the new region alone extends the deployment: the default region and this host
	// (-i, a node of the first region) are registered in the MetaDB.
	second.CMIsDefault = false
	cl = config.ParseCluster(config.FormatCluster([]config.Config{second}), "cluster.yaml")
	probs = CheckCluster(context.Background(), cl, Target{InstallDir: "/home/oms", HostIP: "10.1.0.1", Binary: bin, AdminPassword: "secret123", SSH: SSHLogin{KeyFile: "/k"}}, true)
	if got := strings.Join(probs, "\n"); strings.Contains(got, "cm_is_default") || strings.Contains(got, "-i 10.1.0.1") || strings.Contains(got, "already") {
		t.Errorf("a later region's file is refused:\n%s", got)
	}
	probs = CheckCluster(context.Background(), cl, Target{InstallDir: "/home/oms", HostIP: "10.9.9.9", Binary: bin, AdminPassword: "secret123", SSH: SSHLogin{KeyFile: "/k"}}, true)
	if got := strings.Join(probs, "\n"); !strings.Contains(got, "-i 10.9.9.9: this host's IP is not in cm_nodes") {
		t.Errorf("an unknown -i passes the check:\n%s", got)
	}
}

// cm_url is how clients reach a region (its VIP, on the console port); with no region named they
// reach the default region.
func TestConsoleURL(t *testing.T) {
	a := config.Config{CMRegion: "cn-a", CMURL: "http://10.1.0.100:8088", CMIsDefault: true, ConsolePort: 8089}
	b := config.Config{CMRegion: "cn-b", CMURL: "vip-b.example.com:8088", ConsolePort: 8089, HTTPSKey: "/k", HTTPSCrt: "/c"}
	cs := []config.Config{b, a}
	for _, tc := range []struct{ region, want, err string }{
		{"", "http://10.1.0.100:8089", ""},
		{"cn-b", "https://vip-b.example.com:8089", ""},
		{"cn-x", "", "region cn-x is not in the cluster file (its regions: cn-b, cn-a)"},
	} {
		got, err := ConsoleURL(cs, tc.region)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("ConsoleURL(%q) = %q, %v; want %q, %q", tc.region, got, err, tc.want, tc.err)
		}
	}
	if _, err := ConsoleURL([]config.Config{b}, ""); err == nil || !strings.Contains(err.Error(), "no default region") {
		t.Errorf("no default region: %v", err)
	}
}
