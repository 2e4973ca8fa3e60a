// Package project owns migration projects: data sources (passwords sealed with AES-GCM), projects
// and their OMS steps and states in the rm database, the prechecks, the schema and index steps,
// and the orchestration that turns a running project into component tasks (rows of the cm
// database's tasks table that the CM places on hosts and supervisors run).
//
// It talks to the MetaDB (rm and cm databases) and, for prechecks and schema, to the project's
// source and target databases. The console calls Service for the OpenAPI; the CM's leader calls
// Orchestrator.Reconcile in its background loop. It imports no role package.
package project

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// Steps in order.
var Steps = []string{api.StepPrecheck, api.StepStruct, api.StepIncrLogPull, api.StepFull, api.StepIndex, api.StepIncr, api.StepFullVerifier}

// Service is the project API over the MetaDB.
type Service struct {
	db            *sql.DB
	rm            string // quoted database name
	tasks         *task.Table
	keys          *secret.Keyring
	defaultRegion string
	log           *slog.Logger
	steady        steadiness // the orchestrator's last advance of each project
}

// NewService returns a Service; defaultRegion is used for data sources created without one.
func NewService(db *sql.DB, names metadb.Names, keys *secret.Keyring, defaultRegion string, log *slog.Logger) *Service {
	return &Service{db: db, rm: sqlgen.QuoteIdent(names.RM), tasks: task.NewTable(db, names.CM), keys: keys, defaultRegion: defaultRegion, log: log}
}

func newID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func invalid(msg, advice string) error { return omserr.New(omserr.APIInvalidArgument, msg, advice) }

// CreateDataSource stores a MySQL/MariaDB endpoint with its password sealed.
func (s *Service) CreateDataSource(ctx context.Context, r api.CreateMysqlDataSourceRequest) (api.DataSource, error) {
	switch {
	case strings.TrimSpace(r.Name) == "":
		return api.DataSource{}, invalid("name is required", "give the data source a unique name")
	case r.Host == "":
		return api.DataSource{}, invalid("host is required", "set host to the database's address")
	case r.Port <= 0 || r.Port > 65535:
		return api.DataSource{}, invalid(fmt.Sprintf("port %d is out of range", r.Port), "set port to 1-65535")
	case r.UserName == "":
		return api.DataSource{}, invalid("userName is required", "set the database user oms connects as")
	}
	tlsCfg, err := dataSourceTLS(r.TLSMode, r.TLSCA)
	if err != nil {
		return api.DataSource{}, err
	}
	if r.Region == "" {
		r.Region = s.defaultRegion
	}
	ds := api.DataSource{ID: newID("ds_"), Name: r.Name, Type: "MYSQL", Host: r.Host, Port: r.Port,
		UserName: r.UserName, Region: r.Region, Description: r.Description, TLSMode: string(tlsCfg.Mode), TLSCA: tlsCfg.CA,
		CreatedAt: time.Now().UTC()}
	_, err = s.db.ExecContext(ctx, "INSERT INTO "+s.rm+".data_sources (id, name, type, host, port, username, password_enc, tls_mode, tls_ca, region, description) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		ds.ID, ds.Name, ds.Type, ds.Host, ds.Port, ds.UserName, s.keys.Seal(r.Password), ds.TLSMode, ds.TLSCA, ds.Region, ds.Description)
	if isDuplicate(err) {
		return api.DataSource{}, omserr.New(omserr.APIAlreadyExists, fmt.Sprintf("data source %q already exists", r.Name), "choose another name or use the existing data source")
	}
	if err != nil {
		return api.DataSource{}, fmt.Errorf("insert data source: %w", err)
	}
	return ds, nil
}

// ListDataSources lists data sources whose name contains search.
func (s *Service) ListDataSources(ctx context.Context, search string) ([]api.DataSource, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+dataSourceCols+" FROM "+s.rm+".data_sources WHERE name LIKE ? ORDER BY created_at, id", "%"+search+"%")
	if err != nil {
		return nil, fmt.Errorf("list data sources: %w", err)
	}
	defer rows.Close()
	out := []api.DataSource{}
	for rows.Next() {
		d, err := scanDataSource(rows)
		if err != nil {
			return nil, fmt.Errorf("list data sources: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// dataSourceTLS checks a data source's TLS fields ("" mode: preferred) as a 400 naming the field.
func dataSourceTLS(mode, ca string) (mysqlconn.TLS, error) {
	m, err := mysqlconn.ParseTLSMode(mode)
	if err != nil {
		return mysqlconn.TLS{}, invalid("tlsMode: "+err.Error(), "use "+mysqlconn.Modes+" (default preferred)")
	}
	if len(ca) > maxCALen {
		return mysqlconn.TLS{}, invalid(fmt.Sprintf("tlsCa is %d bytes, more than %d", len(ca), maxCALen), "give only the CA certificate(s) that signed the server's certificate")
	}
	t := mysqlconn.TLS{Mode: m, CA: ca}
	if err := t.Check(); err != nil {
		return mysqlconn.TLS{}, invalid(strings.NewReplacer("tls.mode", "tlsMode", "tls.ca", "tlsCa").Replace(err.Error()),
			"give tlsCa only with tlsMode verify-ca or verify-identity, as the PEM text of the CA certificate")
	}
	return t, nil
}

// maxCALen is what the tls_ca TEXT column holds.
const maxCALen = 65535

// Endpoint is a data source with its password, for connecting.
type Endpoint struct {
	ID, Name, Host, User, Password, Region string
	Port                                   int
	TLS                                    mysqlconn.TLS
}

// Addr is host:port.
func (e Endpoint) Addr() string { return fmt.Sprintf("%s:%d", e.Host, e.Port) }

// Conn is e as mysqlconn connects to it, with password (the precheck, on this node).
func (e Endpoint) Conn() mysqlconn.Config {
	return mysqlconn.Config{Host: e.Host, Port: e.Port, User: e.User, Password: mysqlconn.Secret(e.Password), TLS: e.TLS}
}

func (s *Service) endpoint(ctx context.Context, id string) (Endpoint, error) {
	var e Endpoint
	var sealed []byte
	var mode string
	err := s.db.QueryRowContext(ctx, "SELECT id, name, host, port, username, password_enc, tls_mode, COALESCE(tls_ca, ''), region FROM "+s.rm+".data_sources WHERE id = ?", id).
		Scan(&e.ID, &e.Name, &e.Host, &e.Port, &e.User, &sealed, &mode, &e.TLS.CA, &e.Region)
	e.TLS.Mode = mysqlconn.TLSMode(mode)
	if errors.Is(err, sql.ErrNoRows) {
		return e, omserr.New(omserr.APINotFound, fmt.Sprintf("data source %q does not exist", id), "list data sources with ListDataSource and use one of their ids")
	}
	if err != nil {
		return e, fmt.Errorf("read data source %s: %w", id, err)
	}
	e.Password, err = s.keys.Open(sealed)
	return e, err
}

// projectSpec is the projects.spec JSON.
type projectSpec struct {
	Mapping      api.TransferMapping `json:"transferMapping"`
	EnableStruct bool                `json:"enableStructTransfer"`
	EnableFull   bool                `json:"enableFullTransfer"`
	EnableIncr   bool                `json:"enableIncrTransfer"`
	EnableVerify bool                `json:"enableFullVerify"`
	DDLPolicy    map[string]string   `json:"ddlPolicy,omitempty"`
	SkipGTIDs    []string            `json:"skipGtids,omitempty"` // SkipEvents
	TwoWay       *twoWaySpec         `json:"twoWay,omitempty"`    // one of an active-active pair (twoway.go)
	// Runtime facts the orchestrator records.
	DeferredIndexes []string `json:"deferredIndexes,omitempty"`
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// SelectionConfig converts the wire mapping to the selection package's config.
func SelectionConfig(m api.TransferMapping) selection.Config {
	conv := func(rs []api.TableRule) []selection.Rule {
		out := make([]selection.Rule, 0, len(rs))
		for _, r := range rs {
			out = append(out, selection.Rule{DB: r.DB, Table: r.Table, RenameDB: r.RenameDB, RenameTable: r.RenameTable, Where: r.Where, Columns: r.Columns})
		}
		return out
	}
	return selection.Config{Tables: conv(m.Tables), Exclude: conv(m.Exclude)}
}

// ValidateProject checks a project request as CreateProject does, without storing anything (the
// console validates its wizard as the user types).
func (s *Service) ValidateProject(ctx context.Context, r api.CreateProjectRequest) error {
	_, err := s.validateProject(ctx, r)
	return err
}

func (s *Service) validateProject(ctx context.Context, r api.CreateProjectRequest) (projectSpec, error) {
	if strings.TrimSpace(r.Name) == "" {
		return projectSpec{}, invalid("name is required", "give the project a name")
	}
	if len(r.TransferMapping.Tables) == 0 {
		return projectSpec{}, invalid("transferMapping.tables is empty", "select at least one table, e.g. {db: shop, table: '*'}")
	}
	if _, err := selection.Compile(SelectionConfig(r.TransferMapping)); err != nil {
		return projectSpec{}, omserr.Wrap(err, omserr.APIInvalidArgument, "transferMapping is invalid", "fix the named rule")
	}
	if _, err := ddl.CompilePolicy(r.DDLPolicy, false); err != nil {
		return projectSpec{}, omserr.Wrap(err, omserr.APIInvalidArgument, "ddlPolicy is invalid: "+err.Error(), "name classes table, index, database, view, routine, trigger, event, sequence with apply, skip or stop")
	}
	if r.SourceEndpointID == r.SinkEndpointID {
		return projectSpec{}, invalid("source and sink are the same data source", "use two different data sources")
	}
	var eps []Endpoint
	for _, id := range []string{r.SourceEndpointID, r.SinkEndpointID} {
		e, err := s.endpoint(ctx, id)
		if err != nil {
			return projectSpec{}, err
		}
		eps = append(eps, e)
	}
	spec := projectSpec{Mapping: r.TransferMapping, EnableStruct: boolOr(r.EnableStructTransfer, true),
		EnableFull: boolOr(r.EnableFullTransfer, true), EnableIncr: boolOr(r.EnableIncrTransfer, true),
		EnableVerify: boolOr(r.EnableFullVerify, true), DDLPolicy: r.DDLPolicy}
	if !spec.EnableFull && !spec.EnableIncr {
		return projectSpec{}, invalid("neither full nor incremental transfer is enabled", "enable at least one of enableFullTransfer, enableIncrTransfer")
	}
	if r.TwoWay != nil {
		if err := validateTwoWay(r, eps[0], eps[1], &spec); err != nil {
			return projectSpec{}, err
		}
	}
	return spec, nil
}

// CreateProject validates and stores a project in state INIT with its steps.
func (s *Service) CreateProject(ctx context.Context, r api.CreateProjectRequest) (api.Project, error) {
	spec, err := s.validateProject(ctx, r)
	if err != nil {
		return api.Project{}, err
	}
	id := newID("np_")
	if spec.TwoWay != nil {
		spec.TwoWay.PeerID = newID("np_")
	}
	raw, _ := json.Marshal(spec)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return api.Project{}, fmt.Errorf("create project: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.rm+".projects (id, name, state, source_id, target_id, spec) VALUES (?,?,?,?,?,?)",
		id, r.Name, api.StateInit, r.SourceEndpointID, r.SinkEndpointID, raw); err != nil {
		return api.Project{}, fmt.Errorf("insert project: %w", err)
	}
	if err := s.insertSteps(ctx, tx, id, spec); err != nil {
		return api.Project{}, err
	}
	if spec.TwoWay != nil {
		if err := s.insertReverse(ctx, tx, id, r.Name, r, spec); err != nil {
			return api.Project{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return api.Project{}, fmt.Errorf("create project: %w", err)
	}
	if r.StartImmediately {
		if err := s.Start(ctx, id); err != nil {
			return api.Project{}, err
		}
	}
	return s.Describe(ctx, id)
}

// insertSteps stores a new project's steps, those its spec leaves out as SKIPPED.
func (s *Service) insertSteps(ctx context.Context, tx *sql.Tx, id string, spec projectSpec) error {
	for i, st := range Steps {
		status := api.StepPending
		if !stepEnabled(spec, st) {
			status = api.StepSkipped
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.rm+".project_steps (project_id, step, seq, status) VALUES (?,?,?,?)", id, st, i+1, status); err != nil {
			return fmt.Errorf("insert step %s: %w", st, err)
		}
	}
	return nil
}

func stepEnabled(p projectSpec, step string) bool {
	switch step {
	case api.StepStruct, api.StepIndex:
		return p.EnableStruct
	case api.StepFull:
		return p.EnableFull
	case api.StepIncrLogPull, api.StepIncr:
		return p.EnableIncr
	case api.StepFullVerifier:
		return p.EnableVerify && p.EnableFull
	}
	return true
}

// transition moves a project from one of from to to; it names the failure precisely.
func (s *Service) transition(ctx context.Context, id, to string, from ...string) error {
	q := "UPDATE " + s.rm + ".projects SET state = ?, error_code = '', error_message = NULL WHERE id = ? AND state IN (?" + strings.Repeat(",?", len(from)-1) + ")"
	args := []any{to, id}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("set project %s %s: %w", id, to, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var cur string
	err = s.db.QueryRowContext(ctx, "SELECT state FROM "+s.rm+".projects WHERE id = ?", id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) || cur == api.StateDeleted {
		return omserr.New(omserr.APINotFound, fmt.Sprintf("project %q does not exist", id), "list projects with ListProjects")
	}
	if err != nil {
		return fmt.Errorf("read project %s: %w", id, err)
	}
	return omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s is %s; it can become %s only from %s", id, cur, to, strings.Join(from, ", ")),
		"check the project's state with DescribeProject")
}

// Start runs an INIT project.
func (s *Service) Start(ctx context.Context, id string) error {
	if err := s.transition(ctx, id, api.StateRunning, api.StateInit); err != nil {
		return err
	}
	return s.alsoPeer(ctx, id, func(ctx context.Context, peer string) error {
		return s.transition(ctx, peer, api.StateRunning, api.StateInit)
	})
}

// Stop pauses a running project: its components stop at their checkpoints.
func (s *Service) Stop(ctx context.Context, id string) error {
	if err := s.transition(ctx, id, api.StateSuspend, api.StateRunning); err != nil {
		return err
	}
	if err := s.tasks.SetDesired(ctx, id, task.DesiredStopped); err != nil {
		return err
	}
	return s.alsoPeer(ctx, id, func(ctx context.Context, peer string) error {
		if err := s.transition(ctx, peer, api.StateSuspend, api.StateRunning); err != nil {
			return err
		}
		return s.tasks.SetDesired(ctx, peer, task.DesiredStopped)
	})
}

// Resume continues a suspended or failed project from its checkpoints; failed steps are retried.
func (s *Service) Resume(ctx context.Context, id string) error {
	if err := s.transition(ctx, id, api.StateRunning, api.StateSuspend, api.StateFailed); err != nil {
		return err
	}
	if err := s.restartFailed(ctx, id); err != nil {
		return err
	}
	return s.alsoPeer(ctx, id, func(ctx context.Context, peer string) error {
		if err := s.transition(ctx, peer, api.StateRunning, api.StateSuspend); err != nil {
			return err // a failed peer is resumed on its own, once its cause is fixed
		}
		return s.restartFailed(ctx, peer)
	})
}

// restartFailed resets failed steps and gives failed components another round of restarts.
func (s *Service) restartFailed(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".project_steps SET status = ?, message = NULL WHERE project_id = ? AND status = ?", api.StepPending, id, api.StepFailed); err != nil {
		return fmt.Errorf("reset failed steps of %s: %w", id, err)
	}
	// Components that gave up (FAILED) get another round of restarts.
	if err := s.tasks.RetryFailed(ctx, id); err != nil {
		return err
	}
	return s.tasks.SetDesired(ctx, id, task.DesiredRunning)
}

// Retry restarts a failed project's failed components unchanged (the cause was fixed outside).
func (s *Service) Retry(ctx context.Context, id string) error {
	if err := s.transition(ctx, id, api.StateRunning, api.StateFailed); err != nil {
		return err
	}
	return s.restartFailed(ctx, id)
}

// Release stops and removes a project's components; the orchestrator finishes it (RELEASED).
func (s *Service) Release(ctx context.Context, id string) error {
	if err := s.transition(ctx, id, api.StateReleasing, api.StateRunning, api.StateSuspend, api.StateFailed, api.StateFinished, api.StateInit); err != nil {
		return err
	}
	if err := s.tasks.SetDesired(ctx, id, task.DesiredReleased); err != nil {
		return err
	}
	return s.alsoPeer(ctx, id, func(ctx context.Context, peer string) error {
		if err := s.transition(ctx, peer, api.StateReleasing, api.StateRunning, api.StateSuspend, api.StateFailed, api.StateFinished, api.StateInit); err != nil {
			return err
		}
		return s.tasks.SetDesired(ctx, peer, task.DesiredReleased)
	})
}

// Delete marks a project that never ran or is released as DELETED.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.transition(ctx, id, api.StateDeleted, api.StateInit, api.StateReleased); err != nil {
		return err
	}
	return s.alsoPeer(ctx, id, func(ctx context.Context, peer string) error {
		return s.transition(ctx, peer, api.StateDeleted, api.StateInit, api.StateReleased)
	})
}

const projectCols = "id, name, state, source_id, target_id, spec, error_code, COALESCE(error_message, ''), created_at, updated_at"

func scanProject(sc interface{ Scan(...any) error }) (api.Project, error) {
	var p api.Project
	var raw []byte
	if err := sc.Scan(&p.ID, &p.Name, &p.Status, &p.SourceEndpointID, &p.SinkEndpointID, &raw, &p.ErrorCode, &p.ErrorMessage, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return p, err
	}
	var spec projectSpec
	_ = json.Unmarshal(raw, &spec)
	p.Type = "MIGRATION"
	p.TransferMapping = spec.Mapping
	p.EnableStruct, p.EnableFull, p.EnableIncr, p.EnableVerify = spec.EnableStruct, spec.EnableFull, spec.EnableIncr, spec.EnableVerify
	p.DDLPolicy, p.SkipGTIDs = spec.DDLPolicy, spec.SkipGTIDs
	if spec.TwoWay != nil {
		p.Type = "TWO_WAY_SYNC"
		p.TwoWay = &api.TwoWayInfo{Settings: spec.TwoWay.Settings, Direction: spec.TwoWay.Direction, PeerID: spec.TwoWay.PeerID}
	}
	return p, nil
}

// List returns projects (not DELETED) matching the filter, and the total count.
func (s *Service) List(ctx context.Context, r api.ListProjectsRequest) ([]api.Project, int, error) {
	where := "state <> 'DELETED' AND name LIKE ?"
	args := []any{"%" + r.SearchKey + "%"}
	if len(r.Status) > 0 {
		where += " AND state IN (?" + strings.Repeat(",?", len(r.Status)-1) + ")"
		for _, st := range r.Status {
			args = append(args, st)
		}
	}
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.rm+".projects WHERE "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count projects: %w", err)
	}
	size := r.PageSize
	if size <= 0 || size > 1000 {
		size = 100
	}
	page := max(r.PageNumber, 1)
	rows, err := s.db.QueryContext(ctx, "SELECT "+projectCols+" FROM "+s.rm+".projects WHERE "+where+" ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
		append(args, size, (page-1)*size)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	out := []api.Project{}
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// Describe returns one project with its steps.
func (s *Service) Describe(ctx context.Context, id string) (api.Project, error) {
	p, err := scanProject(s.db.QueryRowContext(ctx, "SELECT "+projectCols+" FROM "+s.rm+".projects WHERE id = ? AND state <> 'DELETED'", id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, omserr.New(omserr.APINotFound, fmt.Sprintf("project %q does not exist", id), "list projects with ListProjects")
	}
	if err != nil {
		return p, fmt.Errorf("read project %s: %w", id, err)
	}
	p.Steps, err = s.steps(ctx, id)
	if err != nil {
		return p, err
	}
	sw, err := s.loadSwitch(ctx, id)
	p.Switch = publicSwitch(sw)
	if err == nil && p.TwoWay != nil {
		if spec, serr := s.loadSpec(ctx, id); serr == nil {
			s.describeTwoWay(ctx, &p, spec)
		}
	}
	return p, err
}

// StepsOf returns a project's steps (NOT_FOUND for an unknown project).
func (s *Service) StepsOf(ctx context.Context, id string) ([]api.Step, error) {
	p, err := s.Describe(ctx, id)
	return p.Steps, err
}

func (s *Service) steps(ctx context.Context, id string) ([]api.Step, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT step, seq, status, progress, metrics, COALESCE(message, ''), started_at, finished_at FROM "+s.rm+".project_steps WHERE project_id = ? ORDER BY seq", id)
	if err != nil {
		return nil, fmt.Errorf("read steps of %s: %w", id, err)
	}
	defer rows.Close()
	out := []api.Step{}
	for rows.Next() {
		var st api.Step
		var metrics []byte
		var started, finished sql.NullTime
		if err := rows.Scan(&st.Name, &st.Order, &st.Status, &st.Progress, &metrics, &st.Message, &started, &finished); err != nil {
			return nil, fmt.Errorf("read steps of %s: %w", id, err)
		}
		if len(metrics) > 0 {
			_ = json.Unmarshal(metrics, &st.Metrics)
		}
		if started.Valid {
			st.StartedAt = &started.Time
		}
		if finished.Valid {
			st.FinishedAt = &finished.Time
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Progress summarises a project's steps and components.
func (s *Service) Progress(ctx context.Context, id string) (api.Progress, error) {
	p, err := s.Describe(ctx, id)
	if err != nil {
		return api.Progress{}, err
	}
	pr := api.Progress{ID: id, Status: p.Status, Steps: p.Steps}
	for _, st := range p.Steps {
		notStarted := st.Status == api.StepPending && slices.Contains(SwitchSteps, st.Name) // no switch asked for (or aborted)
		if pr.CurrentStep == "" && !notStarted && (st.Status == api.StepRunning || st.Status == api.StepPending || st.Status == api.StepFailed) {
			pr.CurrentStep = st.Name
		}
		switch st.Name {
		case api.StepFull:
			pr.FullPercent = st.Progress
			pr.FullRowsDone = int64(st.Metrics["rows_done"])
			pr.FullRowsTotal = int64(st.Metrics["rows_total"])
		case api.StepIncr:
			pr.IncrLagSeconds = st.Metrics["lag_seconds"]
		case api.StepReverseIncr: // after a switchover: the running direction's lag
			if st.Status == api.StepRunning || st.Status == api.StepMonitoring {
				pr.IncrLagSeconds = st.Metrics["lag_seconds"]
			}
		case api.StepFullVerifier:
			pr.VerifyPercent = st.Progress
			pr.VerifyDiffs = int64(st.Metrics["differences"])
			pr.VerifyFinished = st.Status == api.StepFinished
		}
	}
	comps, err := s.Components(ctx, id)
	if err != nil {
		return pr, err
	}
	for _, c := range comps {
		if c.Kind == task.KindIncrSync {
			pr.IncrPosition = c.Position
		}
	}
	return pr, nil
}

// Components lists the component tasks of a project (all projects when id is empty).
func (s *Service) Components(ctx context.Context, id string) ([]api.Component, error) {
	if id != "" {
		if _, err := s.Describe(ctx, id); err != nil {
			return nil, err
		}
	}
	tasks, err := s.tasks.List(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]api.Component, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, t.API())
	}
	return out, nil
}

func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
