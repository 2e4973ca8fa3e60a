package incrsync

import (
	"fmt"

	cfl "github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/omserr"
)

// TwoWayConfig makes this Incr-Sync one direction of an active-active pair (package bidir):
// every DDL it runs carries its echo marker, source transactions stay whole target
// transactions, DDL is applied only when it comes from DDLRegion, and rows are applied with
// conflict detection under Conflicts (conflict.go).
type TwoWayConfig struct {
	// SourceRegion and TargetRegion are the regions of this direction's source and target.
	SourceRegion string `json:"source_region"`
	TargetRegion string `json:"target_region"`
	// DDLRegion is the one region whose DDL the pair replicates. A DDL from the source when it
	// is the other region is handled by OtherRegionDDL.
	DDLRegion string `json:"ddl_region"`
	// OtherRegionDDL says per class of DDL (as DDLPolicy: "table", "index", ...) what this
	// direction does with a DDL from the region that is not DDLRegion, once DDLPolicy would
	// apply it: "apply", "skip", or "stop" (TWOWAY_DDL_WRONG_REGION). Classes not named stop.
	OtherRegionDDL map[string]string `json:"other_region_ddl,omitempty"`
	// Conflicts is the per-table conflict policy and the region priority.
	Conflicts cfl.Config `json:"conflicts"`
}

func (c *TwoWayConfig) check() error {
	bad := func(msg string) error {
		return omserr.New(omserr.TwoWayConfigInvalid, "incr-sync two_way: "+msg, "fix the two-way settings of the project")
	}
	if c.SourceRegion == "" || c.TargetRegion == "" {
		return bad("source_region and target_region are required")
	}
	if c.SourceRegion == c.TargetRegion {
		return bad(fmt.Sprintf("source and target are both in region %s: a two-way pair joins two regions", c.SourceRegion))
	}
	if c.DDLRegion != c.SourceRegion && c.DDLRegion != c.TargetRegion {
		return bad(fmt.Sprintf("ddl_region %q is neither %s nor %s", c.DDLRegion, c.SourceRegion, c.TargetRegion))
	}
	if _, err := ddl.CompileStopPolicy(c.OtherRegionDDL); err != nil {
		return bad("other_region_ddl: " + err.Error())
	}
	if err := c.Conflicts.Check(); err != nil {
		return bad(err.Error())
	}
	return nil
}

// ddlAction is what this direction does with a DDL of class that DDLPolicy would apply: apply
// it when the source is the DDL region (or one-way), else what OtherRegionDDL says.
func (c *TwoWayConfig) ddlAction(class string) string {
	if c == nil || c.DDLRegion == c.SourceRegion {
		return ddl.PolicyApply
	}
	p, _ := ddl.CompileStopPolicy(c.OtherRegionDDL) // checked by check
	return p[class]
}

// wrongRegionDDL is the error that stops a direction at a DDL from the region that may not
// change schemas (other_region_ddl of its class is stop).
func (c *TwoWayConfig) wrongRegionDDL(gtid, stmt string) error {
	return omserr.New(omserr.TwoWayDDLWrongRegion,
		fmt.Sprintf("DDL at source GTID %s came from region %s, but this two-way pair takes schema changes from region %s only: %s",
			gtid, c.SourceRegion, c.DDLRegion, truncate(stmt, 200)),
		fmt.Sprintf("run schema changes in region %s (it replicates them to %s); to go on, undo the statement in %s or apply it in %s by hand, then skip it: oms project skip <project> --gtid %s (or let the pair apply or skip this class of DDL from %s: twoWay.otherRegionDdl)",
			c.DDLRegion, c.SourceRegion, c.SourceRegion, c.DDLRegion, gtid, c.SourceRegion))
}
