package bidir_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/bidir"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

func codes(errs []*omserr.Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Code)
	}
	return out
}

// The precheck refuses the set-ups that would loop and passes a sound pair; the clock skew of
// two servers on one host is near zero with a small uncertainty.
func TestPrecheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	insts := testenv.StartN(t, 2)
	a := bidir.Side{Region: "hz", Addr: insts[0].Addr(), DB: insts[0].DB()}
	b := bidir.Side{Region: "hl", Addr: insts[1].Addr(), DB: insts[1].DB()}

	bad, err := bidir.Precheck(ctx, a, b, "")
	if err != nil || len(bad) != 0 {
		t.Fatalf("a sound pair is refused: %v %v", bad, err)
	}
	bad, err = bidir.Precheck(ctx, a, bidir.Side{Region: "hl", Addr: "localhost:same", DB: insts[0].DB()}, "")
	if err != nil || len(bad) != 1 || bad[0].Code != omserr.TwoWaySameServer {
		t.Fatalf("the same server twice: %v %v", codes(bad), err)
	}
	var id int
	if err := insts[0].DB().QueryRow("SELECT @@server_id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	var old int
	_ = insts[1].DB().QueryRow("SELECT @@server_id").Scan(&old)
	if _, err := insts[1].DB().Exec("SET GLOBAL server_id = ?", id); err != nil {
		t.Fatal(err)
	}
	bad, err = bidir.Precheck(ctx, a, b, "")
	_, _ = insts[1].DB().Exec("SET GLOBAL server_id = ?", old)
	if err != nil || len(bad) != 1 || bad[0].Code != omserr.TwoWaySameServerID || !strings.Contains(bad[0].Message, "server_id") {
		t.Fatalf("the same server_id: %v %v", codes(bad), err)
	}

	skew, err := bidir.MeasureSkew(ctx, a.DB, b.DB)
	if err != nil {
		t.Fatal(err)
	}
	if skew.Seconds > 0.5 || skew.Seconds < -0.5 || skew.Uncertainty < 0 || skew.Uncertainty > 0.5 {
		t.Fatalf("skew of two servers on one clock: %+v", skew)
	}
}

// A server that leaves oms's schema out of its binlog (binlog-ignore-db) is refused: the echo
// marker would not reach the binlog. (binlog-do-db: TestExcluded.)
func TestPrecheckMarkerNotLogged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	insts := []*testenv.Instance{testenv.StartMariaDB(t), testenv.StartMariaDB(t, testenv.Options{ExtraArgs: []string{"--binlog-ignore-db=__oms"}})}
	bad, err := bidir.Precheck(ctx, bidir.Side{Region: "hz", Addr: insts[0].Addr(), DB: insts[0].DB()},
		bidir.Side{Region: "hl", Addr: insts[1].Addr(), DB: insts[1].DB()}, "")
	if err != nil || len(bad) != 1 || bad[0].Code != omserr.TwoWayMarkerNotLogged || !strings.Contains(bad[0].Message, "binlog-ignore-db __oms") ||
		!strings.Contains(bad[0].Message, "region hl") {
		t.Fatalf("binlog-ignore-db=__oms: %v %v", bad, err)
	}
}
