package project

import (
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/selection"
)

// The component configs below mirror the JSON of the data components' Config types
// (internal/store, internal/incrsync, internal/fullimport, internal/verify). They are written
// here, not imported, so the control plane never links the data plane: the supervisor only runs
// `oms component <kind> --spec FILE`. Endpoints are the one connection type, mysqlconn.Config
// (TLS included); passwords are sealed ("enc:v1:...") until the supervisor writes the 0600 spec
// file.

// conn is e as a component config, its password sealed.
func (s *Service) conn(e Endpoint) mysqlconn.Config {
	c := e.Conn()
	c.Password = mysqlconn.Secret(s.keys.SealString(e.Password))
	return c
}

// storeConfig is internal/store's Config.
type storeConfig struct {
	Source storeSource `json:"source"`
	Start  storeStart  `json:"start"`
	// Listen is where the Store serves its consumers; the supervisor replaces an empty or
	// host-less value with the node's IP so Incr-Sync on another node reaches it.
	Listen string `json:"listen"`
	// Heartbeat: the Store writes a heartbeat row to the source every second (lag on an idle
	// source); it only warns when the source user may not write it.
	Heartbeat bool `json:"heartbeat,omitempty"`
	// EchoTasks: two-way, the opposite direction's Incr-Sync whose applied transactions are dropped.
	EchoTasks []string `json:"echo_tasks,omitempty"`
}

type storeSource struct {
	mysqlconn.Config
	Flavor string `json:"flavor,omitempty"`
}

type storeStart struct {
	GTIDSet string `json:"gtid_set,omitempty"`
}

// fullImportConfig is internal/fullimport's Config.
type fullImportConfig struct {
	Source     mysqlconn.Config `json:"source"`
	Target     mysqlconn.Config `json:"target"`
	Selection  selection.Config `json:"selection"`
	SkipSchema bool             `json:"skip_schema,omitempty"`
}

// Where internal/incrsync keeps its checkpoints and its writer fence on its target (its default
// checkpoint_schema, and the fence table it claims).
const (
	incrSchema     = "__oms"
	incrFenceTable = "incr_fence"
)

// incrSyncConfig is internal/incrsync's Config.
type incrSyncConfig struct {
	StoreAddr   string            `json:"store_addr"`
	Target      mysqlconn.Config  `json:"target"`
	Selection   selection.Config  `json:"selection"`
	StartGTID   string            `json:"start_gtid,omitempty"`
	StrictAfter string            `json:"strict_after,omitempty"`
	Flavor      string            `json:"flavor,omitempty"`
	DDLPolicy   map[string]string `json:"ddl_policy,omitempty"`
	SkipGTIDs   []string          `json:"skip_gtids,omitempty"`
	TwoWay      *twoWayIncrConfig `json:"two_way,omitempty"`
}

// verifyConfig is internal/verify's Config.
type verifyConfig struct {
	Source    mysqlconn.Config `json:"source"`
	Target    mysqlconn.Config `json:"target"`
	Selection selection.Config `json:"selection"`
}
