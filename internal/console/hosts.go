package console

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// listHosts joins every region's hosts with that region's heartbeat database.
func (s *Server) listHosts(ctx context.Context) ([]api.Host, error) {
	cm := sqlgen.QuoteIdent(s.names.CM)
	regions := map[string]string{}
	rows, err := s.db.QueryContext(ctx, "SELECT region, heartbeat_db FROM "+cm+".regions")
	if err != nil {
		return nil, fmt.Errorf("list regions: %w", err)
	}
	for rows.Next() {
		var r, hb string
		if err := rows.Scan(&r, &hb); err != nil {
			rows.Close()
			return nil, err
		}
		regions[r] = hb
	}
	rows.Close()
	// The table holds no state: build it here rather than in every Server.
	perHost, err := task.NewTable(s.db, s.names.CM).CountByHost(ctx)
	if err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT h.ip, h.region, h.state, h.cm_port, h.console_port, h.supervisor_port, h.version, h.cert_not_after
		FROM `+cm+`.hosts h ORDER BY h.region, h.ip`)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	out := []api.Host{}
	for rows.Next() {
		var h api.Host
		var certNotAfter sql.NullTime
		if err := rows.Scan(&h.IP, &h.Region, &h.State, &h.CMPort, &h.ConsolePort, &h.SupervisorPort, &h.Version, &certNotAfter); err != nil {
			rows.Close()
			return nil, err
		}
		if certNotAfter.Valid {
			t := certNotAfter.Time.UTC()
			h.CertNotAfter = &t
		}
		h.Components = perHost[h.IP]
		out = append(out, h)
	}
	rows.Close()
	for i := range out {
		hb, ok := regions[out[i].Region]
		if !ok {
			continue
		}
		var beat sql.NullTime
		err := s.db.QueryRowContext(ctx, "SELECT beat_at, cpu_pct, mem_used_bytes, mem_total_bytes, disk_used_bytes, disk_total_bytes FROM "+sqlgen.QuoteIdent(hb)+".heartbeats WHERE host_ip = ?", out[i].IP).
			Scan(&beat, &out[i].CPUPercent, &out[i].MemUsedBytes, &out[i].MemTotalBytes, &out[i].DiskUsedBytes, &out[i].DiskTotalBytes)
		if err == nil && beat.Valid {
			out[i].LastBeat = beat.Time
		}
	}
	return out, nil
}
