package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func (s *Supervisor) heartbeatLoop(ctx context.Context) error {
	t := time.NewTicker(s.opt.Heartbeat)
	defer t.Stop()
	for {
		// A beat stuck on a dead MetaDB connection must not hold up the next one.
		bctx, cancel := context.WithTimeout(ctx, 3*s.opt.Heartbeat)
		err := s.beat(bctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// beat writes this host's heartbeat row (the MetaDB's clock stamps it).
func (s *Supervisor) beat(ctx context.Context) error {
	memUsed, memTotal := memInfo()
	var fs syscall.Statfs_t
	var diskUsed, diskTotal int64
	if syscall.Statfs(s.opt.DataDir, &fs) == nil {
		diskTotal = int64(fs.Blocks) * fs.Bsize
		diskUsed = diskTotal - int64(fs.Bavail)*fs.Bsize
	}
	cpu := s.cpu.percent()
	s.mu.Lock()
	s.host = hostSample{cpu, memUsed, memTotal, diskUsed, diskTotal}
	s.mu.Unlock()
	comps, _ := json.Marshal(s.Components())
	_, err := s.db.ExecContext(ctx, `INSERT INTO `+s.hb+`.heartbeats (host_ip, region, beat_at, node_time, cpu_pct, mem_used_bytes, mem_total_bytes, disk_used_bytes, disk_total_bytes, components)
		VALUES (?, ?, NOW(6), ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE region = VALUES(region), beat_at = VALUES(beat_at), node_time = VALUES(node_time), cpu_pct = VALUES(cpu_pct),
		mem_used_bytes = VALUES(mem_used_bytes), mem_total_bytes = VALUES(mem_total_bytes), disk_used_bytes = VALUES(disk_used_bytes),
		disk_total_bytes = VALUES(disk_total_bytes), components = VALUES(components)`,
		s.opt.HostIP, s.opt.Config.CMRegion, time.Now().UTC(), cpu, memUsed, memTotal, diskUsed, diskTotal, string(comps))
	if err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	return nil
}

// cpuSampler turns /proc/stat's cumulative counters into a busy percentage between samples.
type cpuSampler struct{ busy, total uint64 }

func (c *cpuSampler) percent() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0
	}
	var total, idle uint64
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	busy := total - idle
	db, dt := busy-c.busy, total-c.total
	c.busy, c.total = busy, total
	if dt == 0 {
		return 0
	}
	return 100 * float64(db) / float64(dt)
}

func memInfo() (used, total int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	var avail int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = n * 1024
		case "MemAvailable:":
			avail = n * 1024
		}
	}
	return total - avail, total
}
