package netns

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// writePause between transactions of the live workload: ~60 transactions a second on this
// 2-core machine next to four nodes.
const writePause = 15 * time.Millisecond

// shop is the source data: 2 tables of 2000 rows.
var shop = scenario.Shop{Tables: 2, Rows: 2000}

// endpoint is a MariaDB reachable from one region's hosts (bound to its gateway), with a user
// for oms that the server accepts only over TLS (REQUIRE SSL): oms's default TLS mode
// (preferred) must encrypt every MySQL link, the cross-region ones included.
func endpoint(t *testing.T, n *Net, region int) *testenv.Instance {
	return endpointSSL(t, n, region, true)
}

// endpointSSL is endpoint; requireSSL false lets the oms user connect in clear.
func endpointSSL(t *testing.T, n *Net, region int, requireSSL bool) *testenv.Instance {
	inst := testenv.StartMariaDB(t, testenv.Options{TLS: true, ExtraArgs: []string{"--bind-address=127.0.0.1," + n.Gateway(region)}})
	require := map[bool]string{true: " REQUIRE SSL"}[requireSSL]
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'%s", metaUser, metaPW, require),
		fmt.Sprintf("GRANT ALL ON *.* TO '%s'@'%%'", metaUser),
	} {
		if _, err := inst.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return inst
}

// regionDataSources registers src (region 1, cn-r1) and dst (region 2, cn-r2) as data sources
// through region 1's console.
func regionDataSources(t *testing.T, c *cluster, src, dst *testenv.Instance) (*api.Client, api.DataSource, api.DataSource) {
	return dataSources(t, c, src, 1, dst, 2)
}

// dataSources registers src (in region srcRegion) and dst (in dstRegion) as data sources named
// src-r<region> and dst-r<region> through region 1's console.
func dataSources(t *testing.T, c *cluster, src *testenv.Instance, srcRegion int, dst *testenv.Instance, dstRegion int) (*api.Client, api.DataSource, api.DataSource) {
	t.Helper()
	ctx := context.Background()
	cli := api.NewClient("http://"+c.n.HostIP(1, 1)+":8089", "admin", adminPW, false)
	s, err := cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: fmt.Sprintf("src-r%d", srcRegion), Host: c.n.Gateway(srcRegion), Port: src.Port,
		UserName: metaUser, Password: metaPW, Region: fmt.Sprintf("cn-r%d", srcRegion)})
	if err != nil {
		t.Fatalf("create source: %v", err)
	}
	d, err := cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: fmt.Sprintf("dst-r%d", dstRegion), Host: c.n.Gateway(dstRegion), Port: dst.Port,
		UserName: metaUser, Password: metaPW, Region: fmt.Sprintf("cn-r%d", dstRegion)})
	if err != nil {
		t.Fatalf("create target: %v", err)
	}
	return cli, s, d
}

// crossRegionProject runs startProject and checks that the links it used are mutual TLS.
func crossRegionProject(t *testing.T, c *cluster, src, dst *testenv.Instance) (*api.Client, string, *scenario.Workload) {
	cli, pid, w, store, incr := startProject(t, c, src, dst)
	var storeAddr string
	if err := c.meta.DB().QueryRow("SELECT addr FROM e2e_cm.tasks WHERE project_id = ? AND kind = 'store'", pid).Scan(&storeAddr); err != nil {
		t.Fatal(err)
	}
	// The cross-region stream that carried the rows above was mutual TLS: the Store, the CM and
	// the supervisor refuse plain HTTP and callers without a cluster certificate.
	assertClusterTLS(t, "the Store's stream", "http://"+storeAddr+"/v1/read?consumer=incr-x&from=", "https://"+storeAddr+"/v1/consumers")
	assertClusterTLS(t, "the CM", "http://"+store.Host+":8088/cm/hosts", "https://"+store.Host+":8088/cm/hosts")
	assertClusterTLS(t, "the supervisor", "http://"+incr.Host+":9000/supervisor/components", "https://"+incr.Host+":9000/supervisor/components")
	// The status ports of the running components (the supervisor polls them from the node; the
	// finished full import and verification have closed theirs).
	statusFiles, _ := filepath.Glob(filepath.Join(c.dir, "nodes", "*", "run", pid+"-incr-sync", "status.addr"))
	more, _ := filepath.Glob(filepath.Join(c.dir, "nodes", "*", "store", pid+"-store", "status.addr"))
	statusFiles = append(statusFiles, more...)
	if len(statusFiles) != 2 {
		t.Errorf("found %d component status addresses (%v), want the Store's and the Incr-Sync's", len(statusFiles), statusFiles)
	}
	for _, f := range statusFiles {
		addr, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a := strings.TrimSpace(string(addr))
		assertClusterTLS(t, "the status port of "+filepath.Base(filepath.Dir(f)), "http://"+a+"/status", "https://"+a+"/status")
	}
	// Every session of the oms user on the three MariaDBs is encrypted (the user requires SSL; this
	// checks the requirement is really in force).
	for name, inst := range map[string]*testenv.Instance{"MetaDB": c.meta, "source": src, "target": dst} {
		var req string
		if err := inst.DB().QueryRow("SELECT ssl_type FROM mysql.user WHERE user = ?", metaUser).Scan(&req); err != nil || req != "ANY" {
			t.Errorf("%s: oms user ssl_type %q (%v), want ANY (REQUIRE SSL)", name, req, err)
		}
	}
	return cli, pid, w
}

// startProject runs a project from the region-1 source to the region-2 target with live
// writes: the Store must run on a region-1 host and the Incr-Sync on a region-2 host; full
// verification must be clean. It returns the client, the project, the workload (still running)
// and the Store and Incr-Sync components.
func startProject(t *testing.T, c *cluster, src, dst *testenv.Instance) (cli *api.Client, pid string, w *scenario.Workload, store, incr api.Component) {
	cli, pid, w, comps := runProject(t, c, src, 1, dst, 2)
	store, ok1 := scenario.Component(comps, "store")
	incr, ok2 := scenario.Component(comps, "incr-sync")
	if !ok1 || !ok2 || c.hosts[store.Host] == nil || c.hosts[store.Host].Region != 1 || c.hosts[incr.Host] == nil || c.hosts[incr.Host].Region != 2 {
		t.Fatalf("placement: want the Store on a region-1 host and the Incr-Sync on a region-2 host, got %+v", comps)
	}
	t.Logf("Store on %s (%s), Incr-Sync on %s (%s)", store.Host, store.Region, incr.Host, incr.Region)
	return cli, pid, w, store, incr
}

// runProject creates the data sources (the source in region srcRegion, the target in dstRegion)
// and a project of the shop tables through the console of region 1's first node, starts writes
// on the source and waits until the full verification found no difference. It returns the
// client, the project, the workload (still running) and the components.
func runProject(t *testing.T, c *cluster, src *testenv.Instance, srcRegion int, dst *testenv.Instance, dstRegion int) (*api.Client, string, *scenario.Workload, []api.Component) {
	ctx := context.Background()
	scenario.LogsOnFailure(t, 2500, filepath.Join(c.dir, "nodes", "*", "run", "*", "component.log"), filepath.Join(c.dir, "nodes", "*", "store", "*", "component.log"))
	cli, s, d := dataSources(t, c, src, srcRegion, dst, dstRegion)
	w := shop.StartWorkload(src.DB(), 1, writePause)
	p, err := cli.CreateProject(ctx, api.CreateProjectRequest{Name: fmt.Sprintf("r%d-to-r%d", srcRegion, dstRegion), SourceEndpointID: s.ID, SinkEndpointID: d.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: scenario.ShopTables}}}, StartImmediately: true})
	if err != nil {
		w.Halt()
		t.Fatalf("create project: %v", err)
	}
	scenario.WaitVerified(t, cli, p.ID, 100*time.Second)
	comps, err := cli.DescribeProjectComponents(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cli, p.ID, w, comps
}

// assertClusterTLS: plainURL (http) gets no answer of the service (only Go's TLS server's
// "client sent an HTTP request to an HTTPS server", or a broken connection), tlsURL without a
// client certificate 401.
func assertClusterTLS(t *testing.T, what, plainURL, tlsURL string) {
	t.Helper()
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(plainURL); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "HTTPS server") {
			t.Errorf("%s answered plain HTTP %s: %s %s", what, plainURL, resp.Status, b)
		}
	}
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // no client certificate is the point
	resp, err := anon.Get(tlsURL)
	if err != nil {
		t.Errorf("%s over TLS: %v", what, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("%s without a client certificate: %s, want 401 over TLS 1.2+", what, resp.Status)
	}
}
