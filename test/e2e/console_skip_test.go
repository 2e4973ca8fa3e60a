package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv/chrome"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// Rows of shop.sbtest1 the skip scenario writes: far above the ids the shop workload touches.
const (
	poisonID    = 1_000_000_000
	afterSkipID = poisonID + 1
)

// skipRefusedEvent provokes an Incr-Sync error and skips it from the project page: a trigger on
// the target refuses one source row, so Incr-Sync stops at its transaction; the page shows the
// error with its advice and the skip button promptly (a component stopped at a transaction is
// FAILED at once, not restarted for minutes); the skip from the UI lets the project go on past
// that transaction (a later row arrives, the refused one never does).
func (p *page) skipRefusedEvent(cli *api.Client, src, dst *sql.DB, pid string) {
	t := p.t
	t.Helper()
	ctx := context.Background()
	if _, err := dst.Exec(`CREATE TRIGGER shop.refuse_poison BEFORE INSERT ON shop.sbtest1 FOR EACH ROW
		BEGIN IF NEW.c = 'poison' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poison row refused by the target'; END IF; END`); err != nil {
		t.Fatal(err)
	}
	p.open("overview") // re-opening the page shown would not change the route
	p.open("project/" + pid)
	start := time.Now()
	if _, err := src.Exec("INSERT INTO shop.sbtest1 (id, k, c, pad) VALUES (?, 0, 'poison', 'pad')", poisonID); err != nil {
		t.Fatal(err)
	}
	// Before, the supervisor restarted the stopped Incr-Sync 8 times (about 2.5 minutes).
	p.WaitJS(90*time.Second, "the skip button for the transaction Incr-Sync stopped at", `!!document.querySelector('#act-skip')`)
	t.Logf("Incr-Sync's error and the skip button showed %s after the refused row was written", time.Since(start).Round(100*time.Millisecond))
	errs := p.Text("#project-errors")
	if !strings.Contains(errs, "incr-sync") || !strings.Contains(errs, "stopped at source transaction") || !strings.Contains(errs, "What to do") {
		t.Fatalf("the project page does not show Incr-Sync's error with its transaction and advice: %q", errs)
	}
	p.screenshot("project-error")
	comps, err := cli.DescribeProjectComponents(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	stoppedAt := ""
	for _, c := range comps {
		if c.Kind == "incr-sync" {
			stoppedAt = c.StoppedAt
		}
	}
	if stoppedAt == "" || !strings.Contains(errs, stoppedAt) {
		t.Fatalf("Incr-Sync stopped at %q; the page shows %q", stoppedAt, errs)
	}

	chrome.Eval[bool](p.Page, `window.confirm = () => true; true`) // the skip asks for confirmation
	p.Click("#act-skip")
	scenario.WaitFor(t, 60*time.Second, "project running again with the skipped transaction", func() (bool, string) {
		pr, err := cli.DescribeProject(ctx, pid)
		return err == nil && pr.Status == api.StateRunning && len(pr.SkipGTIDs) == 1 && pr.SkipGTIDs[0] == stoppedAt, fmt.Sprint(pr.Status, pr.SkipGTIDs, err)
	})
	p.WaitText(30*time.Second, "#skipped", stoppedAt)
	if _, err := src.Exec("INSERT INTO shop.sbtest1 (id, k, c, pad) VALUES (?, 0, 'after-skip', 'pad')", afterSkipID); err != nil {
		t.Fatal(err)
	}
	scenario.WaitFor(t, 90*time.Second, "the row written after the skipped one on the target", func() (bool, string) {
		var n int
		err := dst.QueryRow("SELECT COUNT(*) FROM shop.sbtest1 WHERE id = ?", afterSkipID).Scan(&n)
		return err == nil && n == 1, fmt.Sprint(n, err)
	})
	var n int
	if err := dst.QueryRow("SELECT COUNT(*) FROM shop.sbtest1 WHERE id = ?", poisonID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the skipped row on the target: %d %v", n, err)
	}
}

// assertColumnSubset: the wizard's column subset (id, k, c of shop.sbtest*) went end to end: the
// project keeps it, the target tables have only those columns, and the project's verification
// (which compares only them) found no difference.
func assertColumnSubset(t *testing.T, dst *sql.DB, pid string, cli *api.Client) {
	t.Helper()
	ctx := context.Background()
	pr, err := cli.DescribeProject(ctx, pid)
	if err != nil || len(pr.TransferMapping.Tables) != 1 || strings.Join(pr.TransferMapping.Tables[0].Columns, ",") != "id,k,c" {
		t.Fatalf("project mapping %+v %v, want columns id,k,c", pr.TransferMapping, err)
	}
	for _, tbl := range []string{"sbtest1", "sbtest2"} {
		var cols string
		if err := dst.QueryRow(`SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS
			WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = ?`, tbl).Scan(&cols); err != nil || cols != "id,k,c" {
			t.Fatalf("target shop.%s has columns %q (%v), want id,k,c", tbl, cols, err)
		}
	}
	scenario.WaitFor(t, 3*time.Minute, "verification of the column subset", func() (bool, string) {
		pg, err := cli.DescribeProjectProgress(ctx, pid)
		return err == nil && pg.VerifyFinished, fmt.Sprint(pg.CurrentStep, err)
	})
	if pg, err := cli.DescribeProjectProgress(ctx, pid); err != nil || pg.VerifyDiffs != 0 {
		t.Fatalf("verification of the column subset: %d differences (%v)", pg.VerifyDiffs, err)
	}
}
