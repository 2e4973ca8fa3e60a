package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/testenv"
)

var loopSeq atomic.Int64

// loopbackIP is an address of lo no other test uses, so the node's ports 8088/8089/9000 are free.
func loopbackIP() string { return fmt.Sprintf("127.0.%d.%d", 90+os.Getpid()%50, 10+loopSeq.Add(1)) }

func localNode(t *testing.T, inst *testenv.Instance, ip string) Node {
	prefix := uniquePrefix()
	rm, cm, hb, _ := config.DatabaseNames(prefix, 1, true)
	t.Cleanup(func() {
		for _, d := range []string{rm, cm, hb} {
			inst.DB().Exec("DROP DATABASE IF EXISTS `" + d + "`")
		}
	})
	c := config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root", RMDB: rm, CMDB: cm, HeartbeatDB: hb,
		CMURL: "http://" + ip + ":8088", CMLocation: 1, CMRegion: "cn-test", CMRegionCN: "cn-test", CMIsDefault: true,
		CMNodes: []string{ip}, TSDBService: "INFLUXDB", ConsolePort: 8089, CMPort: 8088, SupervisorPort: 9000, GhanaPort: 8090}
	dir := t.TempDir()
	n := Node{IP: ip, Config: c, InstallDir: dir, Local: true, Binary: testenv.OMSBinary(t), AdminPassword: "secret123"}
	t.Cleanup(func() { _ = stopNode(context.Background(), LocalRunner{}, dir) })
	return n
}

func TestInstallLocalNodeTwiceAndFailures(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	in := &Installer{Out: &out, HealthTimeout: 40 * time.Second}
	n := localNode(t, inst, loopbackIP())
	if err := in.SetupRegion(ctx, n.Config); err != nil {
		t.Fatal(err)
	}
	if err := in.SetupRegion(ctx, n.Config); err != nil || !strings.Contains(out.String(), "unchanged (already set up)") {
		t.Fatalf("second set-up: %v\n%s", err, out.String())
	}
	if err := in.InstallNode(ctx, n); err != nil {
		t.Fatalf("install: %v\n%s", err, out.String())
	}
	if ok, err := hostRegistered(ctx, n.Config, n.IP); err != nil || !ok {
		t.Fatalf("host registered: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(n.InstallDir, "conf/admin_password")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("admin password file left behind: %v", err)
	}
	st, _ := os.Stat(filepath.Join(n.InstallDir, "conf/config.yaml"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v", st.Mode())
	}
	// Again: idempotent, the running node is replaced (a rolling restart of one node).
	n.AdminPassword = ""
	if err := in.InstallNode(ctx, n); err != nil {
		t.Fatalf("re-install: %v\n%s", err, out.String())
	}
	logs, _ := filepath.Glob(filepath.Join(n.InstallDir, "logs/init-*.log"))
	if len(logs) == 0 {
		t.Fatal("no init log")
	}

	// A node that refuses to start (its IP is not in its cm_nodes) exits: the error names the
	// step and shows the log tail.
	bad := localNode(t, inst, loopbackIP())
	bad.Config.CMNodes = []string{"10.99.0.1"}
	err := in.InstallNode(ctx, bad)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "wait for health" || !strings.Contains(err.Error(), "exited (or never started)") ||
		!strings.Contains(se.LogTail, "is not one of cm_nodes") {
		t.Fatalf("want a health failure with the log tail, got %v", err)
	}
	if ok, _ := hostRegistered(ctx, n.Config, bad.IP); ok {
		t.Fatal("failed host left registered")
	}

	// A binary that cannot run: the log is empty and the message says the process never started.
	junk := filepath.Join(t.TempDir(), "oms")
	os.WriteFile(junk, []byte("not a program"), 0o644)
	nb := localNode(t, inst, loopbackIP())
	nb.Binary = junk
	err = in.InstallNode(ctx, nb)
	if err == nil || !strings.Contains(err.Error(), "exited (or never started)") {
		t.Fatalf("junk binary: %v", err)
	}
	t.Logf("junk binary error: %v", err)
}

func TestSetupRegionConflicts(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	ctx := context.Background()
	n := localNode(t, inst, "10.9.0.1")
	if _, err := SetupRegion(ctx, n.Config); err != nil {
		t.Fatal(err)
	}
	c2 := n.Config
	c2.CMRegion, c2.CMRegionCN, c2.CMLocation, c2.HeartbeatDB = "cn-other", "cn-other", 2, n.Config.HeartbeatDB+"_2"
	t.Cleanup(func() { inst.DB().Exec("DROP DATABASE IF EXISTS `" + c2.HeartbeatDB + "`") })
	cases := []struct {
		mut  func(c *config.Config)
		want string
	}{
		{func(c *config.Config) {}, "is already the default region"},
		{func(c *config.Config) { c.CMIsDefault = false; c.CMLocation = 1 }, "cm_location 1 is already used by region cn-test"},
		{func(c *config.Config) { c.CMIsDefault = false; c.CMRegion = "cn-test" }, "region cn-test is registered with cm_location 1, not 2"},
	}
	for _, tc := range cases {
		c := c2
		tc.mut(&c)
		_, err := SetupRegion(ctx, c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	c2.CMIsDefault = false
	if _, err := SetupRegion(ctx, c2); err != nil {
		t.Fatal(err)
	}
}

// The host check lists every problem at once: a busy port and a MetaDB the node cannot reach.
func TestPreflightListsProblems(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	ip := loopbackIP()
	n := localNode(t, inst, ip)
	l, err := net.Listen("tcp", ip+":8089")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n.Config.MetaPort = 1
	err = (&Installer{}).preflight(context.Background(), LocalRunner{}, n)
	for _, want := range []string{"port 8089 is in use by another process", "cannot connect to the MetaDB at 127.0.0.1:1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if strings.Contains(fmt.Sprint(err), "port 8088") {
		t.Errorf("free port reported busy: %v", err)
	}
}
