package supervisor

import (
	"errors"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/safepath"
)

// logTail serves GET component.LogTailPath?task=<id>&lines=<n>: the end of the log of a task
// that runs or ran on this host (its work dir under the run or the store dir), bounded and
// redacted by component.ReadLogTail. The task id is a path element checked by safepath.
func (s *Supervisor) logTail(r *http.Request) (any, error) {
	id := r.URL.Query().Get("task")
	n, _ := strconv.Atoi(r.URL.Query().Get("lines"))
	for _, parent := range s.workDirs() {
		dir, err := safepath.Join(parent, id)
		if err != nil {
			return nil, omserr.Wrap(err, omserr.APIInvalidArgument, "task id "+strconv.Quote(id)+" is not a task of this host", "name a component's task id")
		}
		lines, truncated, err := component.ReadLogTail(filepath.Join(dir, component.LogFile), n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return component.LogTail{TaskID: id, Host: s.opt.HostIP, Lines: lines, Truncated: truncated}, nil
	}
	return nil, omserr.New(omserr.APINotFound, "no log of task "+strconv.Quote(id)+" on "+s.opt.HostIP, "the component has not started on this host yet, or its work dir was removed")
}
