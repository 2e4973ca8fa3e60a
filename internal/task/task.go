// Package task owns the cm.tasks table: the task record (one component a host runs for a
// project), its desired and actual states, and every statement that reads or writes the table.
//
// Three roles write it and none of them imports another: the orchestrator (project) creates tasks
// and sets what they should do, the CM places them on hosts, the supervisor runs them and reports
// what it sees. The task's epoch is the fencing token: every (re)assignment is a compare-and-set
// on it (Table.Assign), and a supervisor's report only lands while host and epoch are still its
// own (Table.Report, Table.ReportAll), so a stale owner can neither take a task back nor
// overwrite the new owner's state.
package task

import (
	"encoding/json"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/component"
)

// Component kinds the orchestrator creates tasks for (cm.tasks.kind).
const (
	KindStore      = "store"
	KindIncrSync   = "incr-sync"
	KindFullImport = "full-import"
	KindFullVerify = "full-verify"
)

// Desired is what the orchestrator wants of a task (cm.tasks.desired_state).
type Desired string

// Desired states.
const (
	DesiredRunning  Desired = "RUNNING"
	DesiredStopped  Desired = "STOPPED"
	DesiredReleased Desired = "RELEASED"
)

// State is where a task is (cm.tasks.state): PENDING until the CM places it (ASSIGNED), then what
// its supervisor reports.
type State string

// Task states.
const (
	Pending  State = "PENDING"
	Assigned State = "ASSIGNED"
	Running  State = "RUNNING"
	Stopped  State = "STOPPED"
	Finished State = "FINISHED"
	Failed   State = "FAILED"
	Released State = "RELEASED"
)

// Spec is the cm.tasks.spec JSON: the kind-specific component config, with passwords sealed
// ("enc:v1:..." strings the supervisor opens when it writes the 0600 spec file).
type Spec struct {
	Config json.RawMessage `json:"config"`
}

// Task is one row of cm.tasks.
type Task struct {
	ID, ProjectID, Kind, Region, Host string
	Epoch                             int64
	Desired                           Desired
	State                             State
	Spec                              Spec
	// Addr is where the component serves (the Store's consumers connect there).
	Addr   string
	Status *component.Status
	// Restarts counts the component's consecutive crashes (reported by its supervisor).
	Restarts  int
	UpdatedAt time.Time
}

// Active reports whether the task occupies its host: it counts toward the host's load in
// placement.
func (t Task) Active() bool {
	return t.State != Finished && t.State != Released && t.Desired != DesiredReleased
}

// API converts a task to its wire form.
func (t Task) API() api.Component {
	c := api.Component{ID: t.ID, ProjectID: t.ProjectID, Kind: t.Kind, Region: t.Region, Host: t.Host,
		Epoch: t.Epoch, DesiredState: string(t.Desired), State: string(t.State), UpdatedAt: t.UpdatedAt}
	if st := t.Status; st != nil {
		c.Position, c.LagSeconds, c.Metrics, c.StoppedAt = st.Position, st.LagSeconds, st.Metrics, st.StoppedAt
		if st.Error != nil {
			c.ErrorCode, c.ErrorMessage, c.ErrorAdvice = st.Error.Code, st.Error.Message, st.Error.Advice
		}
	}
	return c
}
