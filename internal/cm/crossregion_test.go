package cm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/testenv"
)

// The CMs of the default region lead the work across regions (the project orchestrator); a CM
// of another region competes for it only while no host of the default region beats.
func TestCrossRegionWorkLedByDefaultRegion(t *testing.T) {
	inst := testenv.Shared(t, "meta")
	ctx := context.Background()
	p := fmt.Sprintf("xr%d", os.Getpid())
	names := metadb.Names{RM: p + "_rm", CM: p + "_cm", Heartbeat: p + "_hb"}
	t.Cleanup(func() {
		for _, d := range []string{names.RM, names.CM, names.Heartbeat, names.Heartbeat + "_2"} {
			inst.DB().Exec("DROP DATABASE IF EXISTS `" + d + "`")
		}
	})
	base := config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root", RMDB: names.RM, CMDB: names.CM}
	r1, r2 := base, base
	r1.CMRegion, r1.CMRegionCN, r1.CMLocation, r1.CMURL, r1.CMIsDefault, r1.HeartbeatDB = "r1", "r1", 1, "http://10.1.0.100:8088", true, names.Heartbeat
	r2.CMRegion, r2.CMRegionCN, r2.CMLocation, r2.CMURL, r2.HeartbeatDB = "r2", "r2", 2, "http://10.2.0.100:8088", names.Heartbeat+"_2"
	db, err := metadb.Open(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cms []*CM
	for i, c := range []config.Config{r1, r2} {
		n := names
		n.Heartbeat = c.HeartbeatDB
		if _, err := metadb.Init(ctx, db, n); err != nil {
			t.Fatal(err)
		}
		cm := New(db, Options{Config: c, HostIP: fmt.Sprintf("10.%d.0.1", i+1), DownAfter: 2 * time.Second}, nil, log)
		if err := cm.Register(ctx); err != nil {
			t.Fatal(err)
		}
		cms = append(cms, cm)
	}
	def, other := cms[0], cms[1]
	if !def.leadsCrossRegion(ctx) || !other.leadsCrossRegion(ctx) {
		t.Fatal("with no heartbeat of the default region yet, both regions must compete")
	}
	beat := "INSERT INTO `" + names.Heartbeat + "`.heartbeats (host_ip, region, beat_at) VALUES ('10.1.0.1', 'r1', NOW(6) - INTERVAL ? SECOND) ON DUPLICATE KEY UPDATE beat_at = VALUES(beat_at)"
	if _, err := db.Exec(beat, 0); err != nil {
		t.Fatal(err)
	}
	if !def.leadsCrossRegion(ctx) || other.leadsCrossRegion(ctx) {
		t.Fatal("while the default region beats, only its CMs lead cross-region work")
	}
	if _, err := db.Exec(beat, 5); err != nil {
		t.Fatal(err)
	}
	if !other.leadsCrossRegion(ctx) {
		t.Fatal("with the default region silent past DownAfter, another region's CM must take over")
	}
}
