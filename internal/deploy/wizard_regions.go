package deploy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/omsdev/oms/internal/config"
)

// The wizard's view of regions already registered in the MetaDB: a later run extends the
// deployment, never overwrites it, and proposes names that are still free.

// loadRegistered reads the regions an earlier run deployed and keeps them, in front of the
// regions of this run, as already deployed: this run extends the deployment. A registered
// region's keys come from the cluster file in the output directory when it has them (nodes,
// ports, TLS), else from the MetaDB.
func (w *Wizard) loadRegistered(ctx context.Context) error {
	if w.opt.Registered == nil {
		return nil
	}
	reg, err := w.opt.Registered(ctx, w.compose(w.regions[0]))
	if err != nil {
		return fmt.Errorf("read the regions registered in the MetaDB: %w", err)
	}
	w.registered = reg
	var saved []config.Config
	if cl, err := config.LoadCluster(filepath.Join(w.opt.OutDir, ClusterFileName)); err == nil {
		saved = cl.Configs()
	}
	var front []config.Config
	for _, r := range reg {
		if w.regionIndex(r.CMRegion) >= 0 {
			continue // in this run's file: deployed again (a rolling restart)
		}
		for _, s := range saved {
			if s.CMRegion == r.CMRegion && s.CMLocation == r.CMLocation {
				r.CMNodes, r.HTTPSKey, r.HTTPSCrt = s.CMNodes, s.HTTPSKey, s.HTTPSCrt
				r.GhanaPort, r.ConsolePort, r.CMPort, r.SupervisorPort = s.GhanaPort, s.ConsolePort, s.CMPort, s.SupervisorPort
			}
		}
		front = append(front, r)
	}
	if len(reg) == 0 {
		return nil
	}
	var ex []string
	for _, r := range reg {
		ex = append(ex, fmt.Sprintf("%s (cm_location %d%s)", r.CMRegion, r.CMLocation, map[bool]string{true: ", default"}[r.CMIsDefault]))
	}
	w.p.Printf("Regions already deployed (registered in the MetaDB): %s. They are kept; this run adds to them.\n", strings.Join(ex, ", "))
	if !w.multi {
		w.p.Printf("Continuing in multiple-regions mode.\n")
		w.multi = true
	}
	w.regions = append(front, w.regions...)
	w.deployed += len(front)
	return nil
}

// regionIndex is the index of the region named name in w.regions, or -1.
func (w *Wizard) regionIndex(name string) int {
	for i, r := range w.regions {
		if name != "" && r.CMRegion == name {
			return i
		}
	}
	return -1
}

// isRegistered reports whether region i was deployed by an earlier run.
func (w *Wizard) isRegistered(i int) bool {
	for _, r := range w.registered {
		if r.CMRegion == w.regions[i].CMRegion && r.CMLocation == w.regions[i].CMLocation {
			return true
		}
	}
	return false
}

// existingQuestion connects to the MetaDB and, when the databases exist, asks whether to go on.
// It returns errRedo when the operator wants to change the MetaDB settings.
func (w *Wizard) existingQuestion(ctx context.Context) error {
	if w.opt.Probe == nil {
		return nil
	}
	c := w.compose(w.regions[0])
	names := []string{c.RMDB, c.CMDB}
	for _, r := range w.regions {
		names = append(names, r.HeartbeatDB)
	}
	c.HeartbeatDB = w.regions[len(w.regions)-1].HeartbeatDB
	existing, err := w.opt.Probe(ctx, c)
	if err != nil {
		w.p.Printf("Cannot use the MetaDB: %v\n", err)
		return errRedo
	}
	if len(existing) == 0 {
		return nil
	}
	w.p.Printf("Existing databases: %s (repeated deployment or upgrade of OMS).\n", strings.Join(existing, ", "))
	ok, err := w.p.Confirm("The specified database names already exist in the MetaDB. Are you sure that you want to continue?")
	if err != nil {
		return err
	}
	if !ok {
		return errRedo
	}
	return nil
}

var errRedo = errors.New("redo the section")

func (w *Wizard) metaSection(ctx context.Context) error {
	for {
		s := &w.shared
		host, err := w.p.Ask("MetaDB URL (IP address or host name)", s.MetaHost, checkHost)
		if err != nil {
			return err
		}
		port, err := w.p.Ask("MetaDB port", itoaOr(s.MetaPort, "3306"), checkPort)
		if err != nil {
			return err
		}
		user, err := w.p.Ask("MetaDB username", s.MetaUser, checkNotEmpty("MetaDB username"))
		if err != nil {
			return err
		}
		q := "MetaDB password"
		if s.MetaPassword != "" {
			q += " (empty: keep the current one)"
		}
		pw, err := w.p.Secret(q, nil)
		if err != nil {
			return err
		}
		def := w.prefix
		if def == "" {
			def = "oms"
		}
		prefix, err := w.p.Ask("Prefix for the names of the databases in the MetaDB", def, checkPrefix)
		if err != nil {
			return err
		}
		s.MetaHost, s.MetaUser = host, user
		s.MetaPort, _ = strconv.Atoi(port)
		if pw != "" || s.MetaPassword == "" {
			s.MetaPassword = config.Secret(pw)
		}
		w.prefix = prefix
		s.RMDB, s.CMDB, _, _ = config.DatabaseNames(prefix, 0, true)
		for i := range w.regions {
			w.deriveHeartbeat(i)
		}
		w.p.Printf("\nMetaDB settings:\n  oms_meta_host: %s\n  oms_meta_port: %d\n  oms_meta_user: %s\n  oms_meta_password: %s\n  drc_rm_db: %s\n  drc_cm_db: %s\n  drc_cm_heartbeat_db: %s\n",
			s.MetaHost, s.MetaPort, s.MetaUser, config.Masked, s.RMDB, s.CMDB, w.regions[0].HeartbeatDB)
		ok, err := w.p.Confirm("Are the MetaDB settings correct?")
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := w.existingQuestion(ctx); errors.Is(err, errRedo) {
			continue
		} else if err != nil {
			return err
		}
		return w.loadRegistered(ctx)
	}
}

// deriveHeartbeat names region i's heartbeat database from the prefix (first region: _cm_hb,
// others _cm_hb_<cm_location>), or from the first region's name when no prefix is known.
func (w *Wizard) deriveHeartbeat(i int) {
	if i < len(w.regions) && w.isRegistered(i) {
		return
	}
	r := &w.regions[i]
	if w.prefix != "" {
		_, _, hb, err := config.DatabaseNames(w.prefix, r.CMLocation, i == 0)
		if err == nil {
			r.HeartbeatDB = hb
		}
	} else if i > 0 && r.HeartbeatDB == "" {
		r.HeartbeatDB = fmt.Sprintf("%s_%d", w.regions[0].HeartbeatDB, r.CMLocation)
	}
	r.HeartbeatDB = w.freeHeartbeat(i, r.HeartbeatDB)
}

// freeHeartbeat returns name, or name_2, name_3, ... when another region uses it.
func (w *Wizard) freeHeartbeat(i int, name string) string {
	used := w.heartbeatsExcept(i)
	if name == "" || used[name] == "" {
		return name
	}
	for n := 2; ; n++ {
		if c := fmt.Sprintf("%s_%d", name, n); used[c] == "" {
			return c
		}
	}
}

// heartbeatsExcept maps the heartbeat databases of the other regions (this run's and the
// registered ones) to their region.
func (w *Wizard) heartbeatsExcept(i int) map[string]string {
	used := map[string]string{}
	for j, r := range w.regions {
		if j != i && r.HeartbeatDB != "" {
			used[r.HeartbeatDB] = r.CMRegion
		}
	}
	for _, r := range w.registered {
		if i >= len(w.regions) || r.CMRegion != w.regions[i].CMRegion {
			used[r.HeartbeatDB] = r.CMRegion
		}
	}
	return used
}
