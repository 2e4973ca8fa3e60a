package project

import (
	"strings"
	"testing"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/task"
)

// TestStatusTruthWhileFailing (issue 21): INCR_TRANSFER is "caught up" only while the Store and
// Incr-Sync both run healthily; a crash-looping Store (the project said "caught up" for two
// minutes before it failed) or an Incr-Sync with an error shows RUNNING with the error and its
// advice.
func TestStatusTruthWhileFailing(t *testing.T) {
	healthy := func(kind string) task.Task {
		return task.Task{Kind: kind, Host: "h1", State: task.Running, Epoch: 1,
			Status: &component.Status{State: component.StateRunning, Position: "0-1-100", LagSeconds: 1}}
	}
	storeErr := healthy(task.KindStore)
	storeErr.Restarts = 3
	storeErr.Status = &component.Status{State: component.StateRunning, Error: omserr.New(omserr.StoreSchemaUnknown, "cannot tell the columns of s.t", "set binlog_row_metadata=FULL")}
	storeCrash := healthy(task.KindStore)
	storeCrash.Restarts = 2
	storeDown := healthy(task.KindStore)
	storeDown.State = task.Assigned
	incrErr := healthy(task.KindIncrSync)
	incrErr.Status = &component.Status{State: component.StateRunning, Position: "0-1-100", Error: omserr.New(omserr.IncrApplyFailed, "applying INSERT failed", "fix the target")}
	lagging := healthy(task.KindIncrSync)
	lagging.Status = &component.Status{State: component.StateRunning, Position: "0-1-100", LagSeconds: 300}
	cases := []struct {
		name        string
		store, incr task.Task
		after       string
		status      string
		msg         []string
	}{
		{"healthy", healthy(task.KindStore), healthy(task.KindIncrSync), "0-1-90", api.StepMonitoring, []string{"caught up"}},
		{"store crash-looping with an error", storeErr, healthy(task.KindIncrSync), "", api.StepRunning, []string{"store", omserr.StoreSchemaUnknown, "restarted 3 times", "binlog_row_metadata=FULL"}},
		{"store restarting", storeCrash, healthy(task.KindIncrSync), "", api.StepRunning, []string{"store", "restarted 2 times"}},
		{"store not running", storeDown, healthy(task.KindIncrSync), "", api.StepRunning, []string{"store", "assigned"}},
		{"incr-sync error", healthy(task.KindStore), incrErr, "", api.StepRunning, []string{"incr-sync", omserr.IncrApplyFailed, "fix the target"}},
		{"lagging", healthy(task.KindStore), lagging, "", api.StepRunning, []string{"incr-sync on h1"}},
		{"before the copy's end", healthy(task.KindStore), healthy(task.KindIncrSync), "0-1-200", api.StepRunning, []string{"incr-sync on h1"}},
	}
	for _, c := range cases {
		st, _, msg := incrStatus(c.store, c.incr, "mariadb", c.after)
		if st != c.status {
			t.Errorf("%s: status %s (%q), want %s", c.name, st, msg, c.status)
		}
		for _, w := range c.msg {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q does not say %q", c.name, msg, w)
			}
		}
	}
}
