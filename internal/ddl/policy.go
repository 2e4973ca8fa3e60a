package ddl

import (
	"fmt"
	"sort"
	"strings"
)

// The actions of a DDL policy (what Incr-Sync does with one class of statement).
const (
	PolicyApply = "apply" // run it on the target (rendered through the rename mapping)
	PolicySkip  = "skip"  // drop it; rows keep flowing
	PolicyStop  = "stop"  // stop the task at it (after everything before it is applied)
)

// The classes of DDL a policy names (ddl_policy keys).
const (
	ClassTable    = "table"    // CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE
	ClassIndex    = "index"    // CREATE/DROP INDEX
	ClassDatabase = "database" // CREATE/ALTER/DROP DATABASE
	ClassView     = "view"     // CREATE/ALTER/DROP VIEW
	ClassRoutine  = "routine"  // CREATE/ALTER/DROP PROCEDURE and FUNCTION
	ClassTrigger  = "trigger"  // CREATE/DROP TRIGGER
	ClassEvent    = "event"    // CREATE/ALTER/DROP EVENT
	ClassSequence = "sequence" // CREATE/ALTER/DROP SEQUENCE
)

// DefaultPolicy is what a project does without a ddl_policy: what a native replica would
// keep, except triggers and events. Incr-Sync writes rows with ordinary statements, so a trigger
// on the target would fire again on rows whose trigger effects already come from the source's
// binlog; an event on the target would run its job a second time (a native replica creates
// events disabled for the same reason).
var DefaultPolicy = map[string]string{
	ClassTable: PolicyApply, ClassIndex: PolicyApply, ClassDatabase: PolicyApply,
	ClassView: PolicyApply, ClassRoutine: PolicyApply, ClassSequence: PolicyApply,
	ClassTrigger: PolicySkip, ClassEvent: PolicySkip,
}

// Class is the policy class of a statement kind ("" for kinds no policy names).
func (k Kind) Class() string {
	switch k {
	case CreateTable, AlterTable, DropTable, RenameTable, TruncateTable:
		return ClassTable
	case CreateIndex, DropIndex:
		return ClassIndex
	case CreateDatabase, AlterDatabase, DropDatabase:
		return ClassDatabase
	case CreateView, AlterView, DropView:
		return ClassView
	case CreateProcedure, AlterProcedure, DropProcedure, CreateFunction, AlterFunction, DropFunction:
		return ClassRoutine
	case CreateTrigger, DropTrigger:
		return ClassTrigger
	case CreateEvent, AlterEvent, DropEvent:
		return ClassEvent
	case CreateSequence, AlterSequence, DropSequence:
		return ClassSequence
	}
	return ""
}

// Policy is a checked policy: every class has an action.
type Policy map[string]string

// CompilePolicy merges a configured policy over the defaults; skipAll (skip_ddl) makes every
// class "skip". Unknown classes or actions are errors naming the valid ones.
func CompilePolicy(cfg map[string]string, skipAll bool) (Policy, error) {
	p, err := compileOver(DefaultPolicy, cfg)
	if err != nil {
		return nil, err
	}
	if skipAll {
		for c := range p {
			p[c] = PolicySkip
		}
	}
	return p, nil
}

// CompileStopPolicy is cfg over "stop" for every class: the policy of a two-way pair for DDL
// from the region that does not own schema changes, where a class not named stops.
func CompileStopPolicy(cfg map[string]string) (Policy, error) {
	stop := make(map[string]string, len(DefaultPolicy))
	for c := range DefaultPolicy {
		stop[c] = PolicyStop
	}
	return compileOver(stop, cfg)
}

// compileOver is base with cfg's actions, each checked.
func compileOver(base, cfg map[string]string) (Policy, error) {
	p := Policy{}
	for c, a := range base {
		p[c] = a
	}
	for c, a := range cfg {
		if _, ok := DefaultPolicy[c]; !ok {
			return nil, fmt.Errorf("unknown DDL class %q: use %s", c, strings.Join(policyClasses(), ", "))
		}
		switch a {
		case PolicyApply, PolicySkip, PolicyStop:
			p[c] = a
		default:
			return nil, fmt.Errorf("DDL class %q: unknown action %q: use apply, skip or stop", c, a)
		}
	}
	return p, nil
}

func policyClasses() []string {
	out := make([]string, 0, len(DefaultPolicy))
	for c := range DefaultPolicy {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
