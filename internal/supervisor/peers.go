package supervisor

import (
	"context"
	"fmt"

	"github.com/omsdev/oms/internal/buildinfo"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// plainPeers says, for each Store and Incr-Sync task of ts, whether its peer (a Store's
// Incr-Syncs, an Incr-Sync's Store) is on a host whose version speaks plain HTTP on the links
// between nodes (buildinfo.SpeaksClusterTLS): a rolling upgrade from such a release is under way
// and the link must be plain until the peer's node is replaced (component.Spec.PlainPeer). A task
// whose answer could not be read is absent (its component keeps what it has).
func (s *Supervisor) plainPeers(ctx context.Context, ts []task.Task) map[string]bool {
	out := map[string]bool{}
	var linked []task.Task
	for _, t := range ts {
		if t.Kind == task.KindStore || t.Kind == task.KindIncrSync {
			linked = append(linked, t)
		}
	}
	if len(linked) == 0 {
		return out
	}
	plainHosts, err := s.plainHosts(ctx)
	if err != nil {
		s.log.Warn("cannot read the hosts' versions", "err", err)
		return out
	}
	projects := map[string][]task.Task{}
	for _, t := range linked {
		out[t.ID] = false
		if len(plainHosts) == 0 {
			continue // the usual case: no node of a plain-HTTP release, no query per project
		}
		peers, ok := projects[t.ProjectID]
		if !ok {
			if peers, err = s.tasks.List(ctx, t.ProjectID); err != nil {
				delete(out, t.ID)
				continue
			}
			projects[t.ProjectID] = peers
		}
		for _, p := range peers {
			linkedKind := (t.Kind == task.KindStore && p.Kind == task.KindIncrSync) || (t.Kind == task.KindIncrSync && p.Kind == task.KindStore)
			if linkedKind && p.Active() && plainHosts[p.Host] {
				out[t.ID] = true
			}
		}
	}
	return out
}

// plainHosts are the registered hosts whose version speaks plain HTTP between nodes.
func (s *Supervisor) plainHosts(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT ip, version FROM "+sqlgen.Table(metadb.NamesFrom(s.opt.Config).CM, "hosts"))
	if err != nil {
		return nil, fmt.Errorf("read host versions: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var ip, v string
		if err := rows.Scan(&ip, &v); err != nil {
			return nil, fmt.Errorf("read host versions: %w", err)
		}
		if !buildinfo.SpeaksClusterTLS(v) {
			out[ip] = true
		}
	}
	return out, rows.Err()
}
