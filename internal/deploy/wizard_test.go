package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recorder is a Deployer that records what the wizard asked it to do.
type recorder struct {
	regions []config.Config
	nodes   []Node
	failIP  string // InstallNode fails once for this IP
}

func (r *recorder) SetupRegion(_ context.Context, c config.Config) error {
	r.regions = append(r.regions, c)
	return nil
}

func (r *recorder) InstallNode(_ context.Context, n Node) error {
	if n.IP == r.failIP {
		r.failIP = ""
		return &StepError{Host: n.IP, Step: "wait for health", Err: fmt.Errorf("the oms node process exited (or never started)")}
	}
	r.nodes = append(r.nodes, n)
	return nil
}

var prefixSeq atomic.Int64

func uniquePrefix() string { return fmt.Sprintf("wz%d_%d", os.Getpid()%10000, prefixSeq.Add(1)) }

// answers joins answer lines; each `// invalid: message` comment in the table below is checked
// against the transcript.
func lines(a ...string) string { return strings.Join(a, "\n") + "\n" }

func TestWizardMultiRegionFromScratch(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	prefix := uniquePrefix()
	bin := filepath.Join(t.TempDir(), "oms")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	out := t.TempDir()
	in := lines(
		"3", "2", // mode: invalid, then multiple regions
		"1",                        // task: no configuration file
		"not a host!", "127.0.0.1", // MetaDB URL
		"99999", fmt.Sprint(inst.Port), // port
		"root", "", // user, password
		"bad-prefix", prefix, // prefix
		"maybe", "y", // confirm MetaDB
		"cn hangzhou", "cn-hangzhou", "", // region ID, cm_region_cn (default)
		"https://10.1.0.100:8088", "10.1.0.100", "8090", "", // cm_url without port, then the port
		"10.1.0.1,10.1.0.1", "10.1.0.1, 10.1.0.2", // nodes
		"128", "1", // cm_location
		"",      // heartbeat database: the proposed name
		"n", "", // default region: n is refused for the only region, y proposed
		"y",                     // cluster settings correct
		"y", "y", "CERESDB", "", // tsdb: monitor, deployed, type (default INFLUXDB)
		"10.0.0.9", "10.0.0.9:8086", "admin", "tsdbpw", "y",
		"y", "sls", "http", "10.0.0.9/audit", "http://10.0.0.9:9000/audit", "y", // audit
		"y", "3", "n", // modify: time-series settings, no monitoring
		"n",                               // modify nothing more
		"short", "secret123", "secret124", // admin: too short, then mismatch
		"secret123", "secret123", //
		"relative/dir", "/opt/oms", "y", "n", // node 10.1.0.1 (local): dir, binary, tls
		"", "", "rootpw", "y", "n", // node 10.1.0.2: dir, ssh user, password, binary, tls
		"y",                                  // deploy in a new region
		"cn-hangzhou", "cn-heilongjiang", "", // region ID reused, then new
		"1", "2", // cm_location reused, then new
		"10.1.0.100:8088", "10.2.0.100:8088", // VIP of region 1 refused
		"10.1.0.2", "10.2.0.1,10.2.0.2", // node of region 1 refused
		prefix+"_cm_hb", "", // heartbeat database: region 1's refused, then the proposed free name
		"y", "", "y", // default: a second default refused, n proposed; settings correct
		"", "", "rootpw", "y", "n", // node 10.2.0.1
		"", "", "rootpw", "y", "n", // node 10.2.0.2
		"n", // no further region
	)
	var transcript strings.Builder
	rec := &recorder{}
	w := NewWizard(NewPrompter(strings.NewReader(in), &transcript), WizardOptions{
		InstallDir: "/home/oms", HostIP: "10.1.0.1", Binary: bin, OutDir: out,
		BinaryVersion: func(string) string { return "oms test" },
		Probe:         ProbeMetaDB, Deployer: rec,
	})
	if err := w.Run(context.Background()); err != nil {
		t.Fatalf("wizard: %v\n%s", err, transcript.String())
	}
	tr := transcript.String()
	for _, msg := range []string{
		`"3" is not one of 1-2`,
		`"not a host!" is not an IP address or host name`,
		`"99999" is not a port number in 1-65535`,
		`database name prefix "bad-prefix": use 1-50 letters, digits, _ or $`,
		`answer y or n, not "maybe"`,
		`"cn hangzhou" is not a valid region ID`,
		`the CM service is plain http; drop https://`,
		`port 8090 is not the CM port 8088`,
		`10.1.0.1 is listed twice`,
		`"128" is not a number in [0,127]`,
		`exactly one region must be the default`,
		`"CERESDB" is not supported: only INFLUXDB is`,
		`"10.0.0.9" is not host:port`,
		`"sls" is not a sink: answer file or http`,
		`"10.0.0.9/audit" is not an http:// or https:// URL`,
		`the password must have at least 8 characters`,
		`the two passwords differ`,
		`"relative/dir" is not an absolute path`,
		`OMS has been deployed in regions [cn-hangzhou]. Deploy OMS in a new region?`,
		`Existing regions: cn-hangzhou (cm_location 1)`,
		`region cn-hangzhou already exists (cm_location 1)`,
		`cm_location 1 is already used by region cn-hangzhou`,
		`10.1.0.100:8088 is the CM URL of region cn-hangzhou`,
		`10.1.0.2 is a node of region cn-hangzhou`,
		`OMS has been deployed in regions [cn-hangzhou,cn-heilongjiang]`,
		"drc_cm_heartbeat_db: " + prefix + "_cm_hb_2",
		prefix + "_cm_hb is the heartbeat database of region cn-hangzhou; each region needs its own",
		"Heartbeat database of this region (drc_cm_heartbeat_db) [" + prefix + "_cm_hb_2]",
		"region cn-hangzhou is already the default region; only one region may be: answer n",
		"(cm_is_default)? Only one region may be the default (y/n) [n]",
	} {
		if !strings.Contains(tr, msg) {
			t.Errorf("transcript lacks %q", msg)
		}
	}
	if strings.Contains(tr, "rootpw") || strings.Contains(tr, "secret123") {
		t.Error("a password appears in the transcript")
	}
	if len(rec.regions) != 2 || len(rec.nodes) != 4 {
		t.Fatalf("deployed %d regions, %d nodes", len(rec.regions), len(rec.nodes))
	}
	if !rec.nodes[0].Local || rec.nodes[0].InstallDir != "/opt/oms" || rec.nodes[1].Local || rec.nodes[1].SSH.Password.Reveal() != "rootpw" ||
		rec.nodes[3].Config.CMRegion != "cn-heilongjiang" || rec.nodes[3].Config.ConsolePort != 8089 || rec.nodes[0].AdminPassword.Reveal() != "secret123" {
		t.Fatalf("nodes: %+v", rec.nodes)
	}
	cl, err := config.LoadCluster(filepath.Join(out, ClusterFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Err(); err != nil {
		t.Fatalf("written cluster file: %v", err)
	}
	cs := cl.Configs()
	if len(cs) != 2 || !cs[0].CMIsDefault || cs[1].CMIsDefault || cs[1].HeartbeatDB != prefix+"_cm_hb_2" ||
		cs[0].HeartbeatDB != prefix+"_cm_hb" || cs[0].RMDB != prefix+"_rm" || cs[0].TSDBEnabled || !cs[1].AuditEnabled ||
		cs[0].CMURL != "http://10.1.0.100:8088" {
		t.Fatalf("configs: %+v", cs)
	}
	if _, err := os.Stat(filepath.Join(out, "config-cn-heilongjiang.yaml")); err != nil {
		t.Fatal(err)
	}
}

// With a config file: existing databases are announced and "n" goes back to the MetaDB settings;
// a failed node can be retried.
func TestWizardFromFileExistingDatabases(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	prefix := uniquePrefix()
	rm, cm, hb, _ := config.DatabaseNames(prefix, 1, true)
	c := config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root", RMDB: rm, CMDB: cm, HeartbeatDB: hb,
		CMURL: "http://10.1.0.100:8088", CMLocation: 1, CMRegion: "cn-hangzhou", CMRegionCN: "cn-hangzhou", CMIsDefault: true,
		CMNodes: []string{"10.1.0.1"}}
	if _, err := SetupRegion(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range []string{rm, cm, hb} {
			inst.DB().Exec("DROP DATABASE IF EXISTS `" + d + "`")
		}
	})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, config.Format(c), 0o600)
	bin := filepath.Join(dir, "oms")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	in := lines(
		"1", "2", // single region, use the config file
		"n",                     // the databases exist: do not continue
		"", "", "", "", "", "y", // MetaDB settings again, all kept
		"y",                      // now continue
		"n",                      // modify nothing
		"secret123", "secret123", //
		"", "y", "n", "y", "", "y", "n", // node: fails, retry, succeeds
	)
	var transcript strings.Builder
	rec := &recorder{failIP: "10.1.0.1"}
	w := NewWizard(NewPrompter(strings.NewReader(in), &transcript), WizardOptions{
		ConfigPath: cfgPath, HostIP: "10.1.0.1", Binary: bin, OutDir: dir, Probe: ProbeMetaDB, Deployer: rec,
	})
	if err := w.Run(context.Background()); err != nil {
		t.Fatalf("wizard: %v\n%s", err, transcript.String())
	}
	tr := transcript.String()
	for _, msg := range []string{
		"The specified database names already exist in the MetaDB. Are you sure that you want to continue?",
		"Existing databases: " + rm + ", " + cm + ", " + hb,
		"the oms node process exited (or never started)",
		"Retry this node?",
	} {
		if !strings.Contains(tr, msg) {
			t.Errorf("transcript lacks %q:\n%s", msg, tr)
		}
	}
	if strings.Count(tr, "Are you sure that you want to continue?") != 2 {
		t.Errorf("want the question twice")
	}
	if len(rec.nodes) != 1 || len(rec.regions) != 1 {
		t.Fatalf("deployed: %+v", rec)
	}
}

// An answers file that ends early is an error naming the question, not a hang.
func TestWizardAnswersEndEarly(t *testing.T) {
	w := NewWizard(NewPrompter(strings.NewReader("2\n1\n"), &strings.Builder{}), WizardOptions{Deployer: &recorder{}})
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `the answer input ended at "MetaDB URL`) {
		t.Fatalf("got %v", err)
	}
}

// A config file failing the check shows the problems and makes the operator modify it.
func TestWizardFromFileFailingCheck(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cluster.yaml")
	hz, _ := os.ReadFile("../config/testdata/seed-hangzhou.yaml")
	hl, _ := os.ReadFile("../config/testdata/seed-heilongjiang.yaml")
	os.WriteFile(p, append(append(hz, "---\n"...), hl...), 0o600)
	w := NewWizard(NewPrompter(strings.NewReader("2\n2\n"), &strings.Builder{}), WizardOptions{ConfigPath: p, Deployer: &recorder{}})
	var tr strings.Builder
	w.p = NewPrompter(strings.NewReader("2\n2\n"), &tr)
	err := w.Run(context.Background())
	if err == nil {
		t.Fatal("want the answers to end at the modify question")
	}
	for _, msg := range []string{"this looks like a masked placeholder", "is also used by region", "The configuration fails the check"} {
		if !strings.Contains(tr.String(), msg) {
			t.Errorf("transcript lacks %q", msg)
		}
	}
}

// "Fix the settings interactively?" after a failed `deploy -c`: no mode or task question, the
// failures are named by their questions (not by lines of the generated file), and the wizard
// resumes at the offending question.
func TestWizardFixResumesAtOffendingQuestion(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cluster.yaml")
	hz, _ := os.ReadFile("../config/testdata/seed-hangzhou.yaml")
	os.WriteFile(p, hz, 0o600)
	var tr strings.Builder
	w := NewWizard(NewPrompter(strings.NewReader(""), &tr), WizardOptions{ConfigPath: p, Fix: true, Deployer: &recorder{}})
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `the answer input ended at "MetaDB URL`) {
		t.Fatalf("want the wizard to stop at the MetaDB URL question, got %v\n%s", err, tr.String())
	}
	out := tr.String()
	fails := out[strings.Index(out, "The configuration fails the check"):]
	for _, want := range []string{`MetaDB URL: "xxx.xxx.xxx.xxx" is not an IP address or host name`, "Time-series database settings (tsdb_password): ", "IP addresses of all servers in the region (region cn-hangzhou): entry \"xxx.xxx.xxx.xx1\""} {
		if !strings.Contains(fails, want) {
			t.Errorf("the failures lack %q:\n%s", want, fails)
		}
	}
	if strings.Contains(fails, "line ") || strings.Contains(out, "Select a deployment mode") || strings.Contains(out, "Which settings do you want to modify?") {
		t.Errorf("fix mode asks from the start or points at lines:\n%s", out)
	}
}
