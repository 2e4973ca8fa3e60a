package netns

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv"
)

const (
	projTables = 2
	projRows   = 2000
	// writePause between transactions of the live workload: ~60 transactions a second on this
	// 2-core machine next to four nodes.
	writePause = 15 * time.Millisecond
)

func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < d {
		ok, why := cond()
		if ok {
			return time.Since(start)
		}
		last = why
		time.Sleep(250 * time.Millisecond) // polling interval
	}
	t.Fatalf("timed out after %s waiting for %s; last: %s", d, what, last)
	return 0
}

// endpoint is a MariaDB reachable from one region's hosts (bound to its gateway), with a user
// for oms.
func endpoint(t *testing.T, n *Net, region int) *testenv.Instance {
	inst := testenv.StartMariaDB(t, testenv.Options{ExtraArgs: []string{"--bind-address=127.0.0.1," + n.Gateway(region)}})
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", metaUser, metaPW),
		fmt.Sprintf("GRANT ALL ON *.* TO '%s'@'%%'", metaUser),
	} {
		if _, err := inst.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return inst
}

func seed(t *testing.T, db *sql.DB) {
	if _, err := db.Exec("CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= projTables; i++ {
		if _, err := db.Exec(fmt.Sprintf("CREATE TABLE shop.t%d (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(64) NOT NULL)", i)); err != nil {
			t.Fatal(err)
		}
		var vals []string
		for r := 1; r <= projRows; r++ {
			vals = append(vals, fmt.Sprintf("(%d,%d,'row-%d')", r, r%97, r))
		}
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO shop.t%d VALUES %s", i, strings.Join(vals, ","))); err != nil {
			t.Fatal(err)
		}
	}
}

type writer struct {
	stop chan struct{}
	wg   sync.WaitGroup
	txns atomic.Int64
}

func startWriter(db *sql.DB) *writer {
	w := &writer{stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(writePause):
			}
			tbl := fmt.Sprintf("shop.t%d", 1+rand.IntN(projTables))
			id := 1 + rand.IntN(projRows*2)
			tx, err := db.Begin()
			if err != nil {
				continue
			}
			_, e1 := tx.Exec("UPDATE "+tbl+" SET k = k + 1 WHERE id = ?", 1+rand.IntN(projRows))
			_, e2 := tx.Exec("REPLACE INTO "+tbl+" (id, k, c) VALUES (?, ?, 'live')", id, rand.IntN(1000))
			if e1 != nil || e2 != nil {
				_ = tx.Rollback()
				continue
			}
			if tx.Commit() == nil {
				w.txns.Add(1)
			}
		}
	}()
	return w
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

func digest(db *sql.DB) (string, error) {
	var parts []string
	for i := 1; i <= projTables; i++ {
		var n int64
		var sum sql.NullString
		if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*), SUM(CRC32(CONCAT_WS('#', id, k, c))) FROM shop.t%d", i)).Scan(&n, &sum); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%d/%s", n, sum.String))
	}
	return strings.Join(parts, " "), nil
}

func componentOf(comps []api.Component, kind string) (api.Component, bool) {
	for _, c := range comps {
		if c.Kind == kind {
			return c, true
		}
	}
	return api.Component{}, false
}

func stepStatus(p api.Project, name string) api.Step {
	for _, s := range p.Steps {
		if s.Name == name {
			return s
		}
	}
	return api.Step{}
}

// crossRegionProject runs a project from the region-1 source to the region-2 target with live
// writes: the Store must run on a region-1 host and the Incr-Sync on a region-2 host; full
// verification must be clean. It returns the client, the project and the workload (still running).
func crossRegionProject(t *testing.T, c *cluster, src, dst *testenv.Instance) (*api.Client, string, *writer) {
	ctx := context.Background()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(c.dir, "nodes", "*", "run", "*", "component.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			if len(b) > 2500 {
				b = b[len(b)-2500:]
			}
			t.Logf("--- %s ---\n%s", l, b)
		}
	})
	cli := api.NewClient("http://"+c.n.HostIP(1, 1)+":8089", "admin", adminPW, false)
	s, err := cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "src-r1", Host: c.n.Gateway(1), Port: src.Port,
		UserName: metaUser, Password: metaPW, Region: "cn-r1"})
	if err != nil {
		t.Fatalf("create source: %v", err)
	}
	d, err := cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "dst-r2", Host: c.n.Gateway(2), Port: dst.Port,
		UserName: metaUser, Password: metaPW, Region: "cn-r2"})
	if err != nil {
		t.Fatalf("create target: %v", err)
	}
	w := startWriter(src.DB())
	p, err := cli.CreateProject(ctx, api.CreateProjectRequest{Name: "r1-to-r2", SourceEndpointID: s.ID, SinkEndpointID: d.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "t*"}}}, StartImmediately: true})
	if err != nil {
		w.halt()
		t.Fatalf("create project: %v", err)
	}
	waitUntil(t, 100*time.Second, "full verification finished", func() (bool, string) {
		pr, err := cli.DescribeProject(ctx, p.ID)
		if err != nil {
			return false, err.Error()
		}
		if pr.Status == api.StateFailed {
			t.Fatalf("project failed: %s %s", pr.ErrorCode, pr.ErrorMessage)
		}
		v := stepStatus(pr, api.StepFullVerifier)
		return v.Status == api.StepFinished, fmt.Sprintf("%s %+v", pr.Status, pr.Steps)
	})
	pr, _ := cli.DescribeProject(ctx, p.ID)
	if v := stepStatus(pr, api.StepFullVerifier); v.Metrics["differences"] != 0 {
		t.Fatalf("verification found %v differences: %s", v.Metrics["differences"], v.Message)
	}
	comps, err := cli.DescribeProjectComponents(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	store, ok1 := componentOf(comps, "store")
	incr, ok2 := componentOf(comps, "incr-sync")
	if !ok1 || !ok2 || c.hosts[store.Host] == nil || c.hosts[store.Host].Region != 1 || c.hosts[incr.Host] == nil || c.hosts[incr.Host].Region != 2 {
		t.Fatalf("placement: want the Store on a region-1 host and the Incr-Sync on a region-2 host, got %+v", comps)
	}
	t.Logf("Store on %s (%s), Incr-Sync on %s (%s)", store.Host, store.Region, incr.Host, incr.Region)
	return cli, p.ID, w
}
