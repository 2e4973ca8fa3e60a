package supervisor

import (
	"path/filepath"
	"testing"

	"github.com/omsdev/oms/internal/task"
)

// A Store keeps its change logs under <install>/store (the guide's directory for a large disk);
// the other components work under <install>/run. Task ids never escape either.
func TestTaskDirs(t *testing.T) {
	d := t.TempDir()
	s := &Supervisor{opt: Options{DataDir: d}}
	for _, tc := range []struct {
		kind, id, want string
	}{
		{task.KindStore, "p1-store", filepath.Join(d, "store", "p1-store")},
		{task.KindIncrSync, "p1-incr", filepath.Join(d, "run", "p1-incr")},
	} {
		got, err := s.taskDir(task.Task{Kind: tc.kind, ID: tc.id})
		if err != nil || got != tc.want {
			t.Errorf("%s %s: %q %v, want %q", tc.kind, tc.id, got, err, tc.want)
		}
	}
	if got, err := s.taskDir(task.Task{Kind: task.KindStore, ID: "../x"}); err == nil && filepath.Dir(got) != filepath.Join(d, "store") {
		t.Errorf("id ../x escaped: %s", got)
	}
}
