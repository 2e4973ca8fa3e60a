// Package api is oms's public OpenAPI: the JSON wire types of `POST /api/v2?Action=<Name>` and a
// Go client for them. The CLI and the console UI use only this package to talk to a node; it
// imports nothing under internal/.
//
// Every response is an Envelope: {success, errorDetail, code, message, advice, requestId, data,
// pageNumber, pageSize, totalCount, cost}, the shape of OceanBase OMS's OpenAPI.
package api

import (
	"encoding/json"
	"time"
)

// Envelope is every response body.
type Envelope struct {
	Success     bool            `json:"success"`
	ErrorDetail *ErrorDetail    `json:"errorDetail,omitempty"`
	Code        string          `json:"code,omitempty"`
	Message     string          `json:"message,omitempty"`
	Advice      string          `json:"advice,omitempty"`
	RequestID   string          `json:"requestId"`
	Data        json.RawMessage `json:"data,omitempty"`
	PageNumber  int             `json:"pageNumber,omitempty"`
	PageSize    int             `json:"pageSize,omitempty"`
	TotalCount  int             `json:"totalCount,omitempty"`
	Cost        string          `json:"cost,omitempty"`
}

// ErrorDetail repeats the failure in OMS's nested form.
type ErrorDetail struct {
	Code     string `json:"code"`
	Level    string `json:"level"`
	Message  string `json:"message"`
	Proposal string `json:"proposal,omitempty"`
}

// Actions of the OpenAPI.
const (
	ActionCreateMysqlDataSource     = "CreateMysqlDataSource"
	ActionListDataSource            = "ListDataSource"
	ActionCreateProject             = "CreateProject"
	ActionStartProject              = "StartProject"
	ActionStopProject               = "StopProject"
	ActionResumeProject             = "ResumeProject"
	ActionReleaseProject            = "ReleaseProject"
	ActionDeleteProject             = "DeleteProject"
	ActionListProjects              = "ListProjects"
	ActionDescribeProject           = "DescribeProject"
	ActionDescribeProjectSteps      = "DescribeProjectSteps"
	ActionDescribeProjectProgress   = "DescribeProjectProgress"
	ActionDescribeProjectComponents = "DescribeProjectComponents"
	ActionListHosts                 = "ListHosts"
	ActionListComponents            = "ListComponents"
	ActionSkipProjectEvents         = "SkipProjectEvents"
	ActionRetryProject              = "RetryProject"
	ActionSwitchoverProject         = "SwitchoverProject"
	ActionRollbackProject           = "RollbackProject"
)

// CreateMysqlDataSourceRequest registers a MySQL/MariaDB endpoint.
type CreateMysqlDataSourceRequest struct {
	Name        string `json:"name" yaml:"name" maxlen:"data_sources.name"`
	Host        string `json:"host" yaml:"host" maxlen:"data_sources.host"`
	Port        int    `json:"port" yaml:"port"`
	UserName    string `json:"userName" yaml:"userName" maxlen:"data_sources.username"`
	Password    string `json:"password" yaml:"password" maxlen:"sealed:data_sources.password_enc"`
	Region      string `json:"region,omitempty" yaml:"region,omitempty" maxlen:"data_sources.region"`
	Description string `json:"description,omitempty" yaml:"description,omitempty" maxlen:"data_sources.description"`
	// TLSMode is disabled, preferred (default: TLS whenever the server offers it), required,
	// verify-ca or verify-identity.
	TLSMode string `json:"tlsMode,omitempty" yaml:"tlsMode,omitempty" maxlen:"data_sources.tls_mode"`
	// TLSCA is the PEM text of the CA that signed the server's certificate (verify-ca and
	// verify-identity; empty: the system roots).
	TLSCA string `json:"tlsCa,omitempty" yaml:"tlsCa,omitempty" maxlen:"data_sources.tls_ca"`
}

// DataSource is a stored endpoint (never with its password).
type DataSource struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Host        string    `json:"host"`
	Port        int       `json:"port"`
	UserName    string    `json:"userName"`
	Region      string    `json:"region"`
	Description string    `json:"description,omitempty"`
	TLSMode     string    `json:"tlsMode"`
	TLSCA       string    `json:"tlsCa,omitempty"`
	CreatedAt   time.Time `json:"gmtCreate"`
}

// ListDataSourceRequest filters data sources.
type ListDataSourceRequest struct {
	SearchKey string `json:"searchKey,omitempty" maxlen:"data_sources.name"`
}

// TableRule selects tables of a project (see docs/control-plane.md): db and table are patterns
// (`*` and `?`), renames give the target names, where filters rows, columns picks columns.
type TableRule struct {
	DB          string `json:"db" yaml:"db" maxlen:"value"`
	Table       string `json:"table,omitempty" yaml:"table,omitempty" maxlen:"value"`
	RenameDB    string `json:"renameDb,omitempty" yaml:"renameDb,omitempty" maxlen:"identifier"`
	RenameTable string `json:"renameTable,omitempty" yaml:"renameTable,omitempty" maxlen:"identifier"`
	Where       string `json:"where,omitempty" yaml:"where,omitempty" maxlen:"rowfilter"`
	// Columns is the subset of the table's columns to move (empty: all); it must hold the primary
	// key. Schema, full copy, Incr-Sync and verification all use only these columns.
	Columns []string `json:"columns,omitempty" yaml:"columns,omitempty" maxlen:"identifier"`
}

// TransferMapping is the object selection of a project.
type TransferMapping struct {
	Tables  []TableRule `json:"tables" yaml:"tables"`
	Exclude []TableRule `json:"exclude,omitempty" yaml:"exclude,omitempty"`
}

// CreateProjectRequest creates a migration project in state INIT.
type CreateProjectRequest struct {
	Name                 string          `json:"name" yaml:"name" maxlen:"projects.name"`
	SourceEndpointID     string          `json:"sourceEndpointId" yaml:"sourceEndpointId" maxlen:"data_sources.id"`
	SinkEndpointID       string          `json:"sinkEndpointId" yaml:"sinkEndpointId" maxlen:"data_sources.id"`
	TransferMapping      TransferMapping `json:"transferMapping" yaml:"transferMapping"`
	EnableStructTransfer *bool           `json:"enableStructTransfer,omitempty" yaml:"enableStructTransfer,omitempty"`
	EnableFullTransfer   *bool           `json:"enableFullTransfer,omitempty" yaml:"enableFullTransfer,omitempty"`
	EnableIncrTransfer   *bool           `json:"enableIncrTransfer,omitempty" yaml:"enableIncrTransfer,omitempty"`
	EnableFullVerify     *bool           `json:"enableFullVerify,omitempty" yaml:"enableFullVerify,omitempty"`
	// DDLPolicy says per class of DDL (table, index, database, view, routine, trigger, event,
	// sequence) whether Incr-Sync applies, skips or stops at it ("apply", "skip", "stop");
	// classes not named keep the defaults of docs/incr-sync.md.
	DDLPolicy map[string]string `json:"ddlPolicy,omitempty" yaml:"ddlPolicy,omitempty" maxlen:"value"`
	// StartImmediately starts the project right after creating it.
	StartImmediately bool `json:"startImmediately,omitempty" yaml:"startImmediately,omitempty"`
	// TwoWay makes the project active-active: the reverse project is created with it (twoway.go).
	TwoWay *TwoWaySettings `json:"twoWay,omitempty" yaml:"twoWay,omitempty"`
}

// ProjectIDRequest names one project.
type ProjectIDRequest struct {
	ID string `json:"id" maxlen:"projects.id"`
}

// SkipProjectEventsRequest asks Incr-Sync never to apply some source transactions (DDL or
// DML): GTIDs or ranges of one domain and server ("0-1-123", "0-1-120-130", "uuid:120-130"),
// or, with Event, exactly the transaction the project's Incr-Sync stopped at. The skip is kept
// in the project; resume (or retry) the project to go on.
type SkipProjectEventsRequest struct {
	ID    string   `json:"id" maxlen:"projects.id"`
	GTIDs []string `json:"gtids,omitempty" maxlen:"value"`
	Event bool     `json:"event,omitempty"`
}

// SkipProjectEventsResponse lists what was added and every skip of the project.
type SkipProjectEventsResponse struct {
	Added     []string `json:"added"`
	SkipGTIDs []string `json:"skipGtids"`
}

// ListProjectsRequest filters and pages projects.
type ListProjectsRequest struct {
	SearchKey  string   `json:"searchKey,omitempty" maxlen:"projects.name"`
	Status     []string `json:"status,omitempty" maxlen:"projects.state"`
	PageNumber int      `json:"pageNumber,omitempty"`
	PageSize   int      `json:"pageSize,omitempty"`
}

// Project states.
const (
	StateInit      = "INIT"
	StateRunning   = "RUNNING"
	StateSuspend   = "SUSPEND"
	StateFailed    = "FAILED"
	StateFinished  = "FINISHED"
	StateReleasing = "RELEASING"
	StateReleased  = "RELEASED"
	StateDeleted   = "DELETED"
)

// Step names, in order.
const (
	StepPrecheck     = "TRANSFER_PRECHECK"
	StepStruct       = "STRUCT_TRANSFER"
	StepIncrLogPull  = "TRANSFER_INCR_LOG_PULL"
	StepFull         = "FULL_TRANSFER"
	StepIndex        = "INDEX_TRANSFER"
	StepIncr         = "INCR_TRANSFER"
	StepFullVerifier = "FULL_VERIFIER"
	// Switchover (and rollback, which runs the same steps in the other direction), added to a
	// project by SwitchoverProject.
	StepSwitchPrecheck = "SWITCH_PRECHECK"       // lag, components, verification, the new source's binlog
	StepSwitchLogPull  = "SWITCH_INCR_LOG_PULL"  // the new direction's Store, started before writes stop
	StepWriteFence     = "WRITE_FENCE"           // writes to the old primary stopped (confirmed or read_only)
	StepHandover       = "POSITION_HANDOVER"     // old direction applied up to the fence, then stopped
	StepObjectFixup    = "OBJECT_FIXUP"          // AUTO_INCREMENT raised on the new primary; triggers, FKs listed
	StepAppSwitch      = "TRANSFER_APP_SWITCH"   // the new primary made writable: the application moves
	StepReverseIncr    = "REVERSE_INCR_TRANSFER" // target -> source Incr-Sync (the way back)
)

// Directions of a project's incremental sync.
const (
	DirectionForward = "FORWARD" // source -> target (the project as created)
	DirectionReverse = "REVERSE" // target -> source (after a switchover)
)

// Step statuses.
const (
	StepPending    = "PENDING"
	StepRunning    = "RUNNING"
	StepMonitoring = "MONITORING" // a continuous step that is healthy (Store, Incr-Sync)
	StepFinished   = "FINISHED"
	StepFailed     = "FAILED"
	StepSuspend    = "SUSPEND"
	StepSkipped    = "SKIPPED"
)

// Project is one migration project.
type Project struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Type             string            `json:"type"`
	Status           string            `json:"status"`
	SourceEndpointID string            `json:"sourceEndpointId"`
	SinkEndpointID   string            `json:"sinkEndpointId"`
	TransferMapping  TransferMapping   `json:"transferMapping"`
	EnableStruct     bool              `json:"enableStructTransfer"`
	EnableFull       bool              `json:"enableFullTransfer"`
	EnableIncr       bool              `json:"enableIncrTransfer"`
	EnableVerify     bool              `json:"enableFullVerify"`
	DDLPolicy        map[string]string `json:"ddlPolicy,omitempty"`
	// SkipGTIDs are the source transactions the operator chose never to apply
	// (SkipProjectEvents), in the order they were added.
	SkipGTIDs    []string  `json:"skipGtids,omitempty"`
	ErrorCode    string    `json:"errorCode,omitempty"`
	ErrorMessage string    `json:"errorMessage,omitempty"`
	CreatedAt    time.Time `json:"gmtCreate"`
	UpdatedAt    time.Time `json:"gmtModified"`
	Steps        []Step    `json:"steps,omitempty"`
	// Switch is the project's switchover state (nil when it never switched).
	Switch *SwitchState `json:"switch,omitempty"`
	// TwoWay is set on both projects of an active-active pair.
	TwoWay *TwoWayInfo `json:"twoWay,omitempty"`
}

// SwitchoverRequest asks for a switchover (the target becomes the primary, reverse sync starts)
// or, as RollbackProject, for the way back (the source becomes the primary again).
type SwitchoverRequest struct {
	ID string `json:"id" maxlen:"projects.id"`
	// DryRun runs the precheck and answers the plan with the positions it would use; nothing
	// changes.
	DryRun bool `json:"dryRun,omitempty"`
	// Fence: oms stops the writes itself (read_only on the old primary, after listing its
	// sessions); without it the caller confirms that the application stopped writing.
	Fence bool `json:"fence,omitempty"`
	// WritesStopped is the caller's confirmation, required without Fence.
	WritesStopped bool `json:"writesStopped,omitempty"`
	// MaxLagSeconds is the precheck's lag threshold (default 15).
	MaxLagSeconds float64 `json:"maxLagSeconds,omitempty"`
}

// SwitchPlan is the answer to SwitchoverProject/RollbackProject: the precheck and every step with
// the positions it uses (DryRun) or the request accepted.
type SwitchPlan struct {
	ID        string       `json:"id"`
	Operation string       `json:"operation"` // SWITCHOVER or ROLLBACK
	From      string       `json:"from"`      // data source id of the primary before
	To        string       `json:"to"`        // and after
	DryRun    bool         `json:"dryRun"`
	Checks    []string     `json:"checks"`
	Steps     []PlanStep   `json:"steps"`
	State     *SwitchState `json:"state,omitempty"`

	// Precheck is Checks item by item (what the console shows).
	Precheck []PrecheckItem `json:"precheck,omitempty"`
}

// PrecheckItem is one check of a precheck: what was found and, when it failed, what to do.
type PrecheckItem struct {
	Name    string `json:"name"`
	Side    string `json:"side"`
	OK      bool   `json:"ok"`
	Warning bool   `json:"warning,omitempty"`
	Message string `json:"message"`
	Advice  string `json:"advice,omitempty"`
}

// PlanStep is one step of a switch plan.
type PlanStep struct {
	Name   string `json:"name"`
	Action string `json:"action"`
}

// SwitchState is where a project's switchover or rollback is.
type SwitchState struct {
	// Direction of the incremental sync now running (FORWARD or REVERSE).
	Direction string `json:"direction"`
	// Operation in progress (SWITCHOVER, ROLLBACK) or done last.
	Operation  string `json:"operation,omitempty"`
	InProgress bool   `json:"inProgress"`
	Fence      bool   `json:"fence"`
	// FenceGTID is the old primary's GTID set taken at the write fence; the old direction is
	// done when its applied checkpoint contains it.
	FenceGTID string `json:"fenceGtid,omitempty"`
	// StoreStartGTID is where the new direction's Store started (before the fence).
	StoreStartGTID string `json:"storeStartGtid,omitempty"`
	// StartGTID is the new primary's GTID set taken before it became writable: the new
	// direction's Incr-Sync applies what follows it.
	StartGTID  string     `json:"startGtid,omitempty"`
	FencedAt   *time.Time `json:"fencedAt,omitempty"`
	WritableAt *time.Time `json:"writableAt,omitempty"`
	// DowntimeSeconds is the measured write downtime: fence to the new primary writable.
	DowntimeSeconds float64 `json:"downtimeSeconds,omitempty"`
	// Fixups lists what OBJECT_FIXUP changed or found on the new primary.
	Fixups []string `json:"fixups,omitempty"`
	// Sessions lists the old primary's client sessions still connected at the fence.
	Sessions   []string `json:"sessions,omitempty"`
	Generation int      `json:"generation"`
}

// Switch operations.
const (
	OperationSwitchover = "SWITCHOVER"
	OperationRollback   = "ROLLBACK"
)

// Step is one OMS step of a project.
type Step struct {
	Name       string             `json:"name"`
	Order      int                `json:"order"`
	Status     string             `json:"status"`
	Progress   float64            `json:"progress"`
	Message    string             `json:"message,omitempty"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	StartedAt  *time.Time         `json:"startTime,omitempty"`
	FinishedAt *time.Time         `json:"finishTime,omitempty"`
}

// Progress summarises a project.
type Progress struct {
	ID             string  `json:"id"`
	Status         string  `json:"status"`
	CurrentStep    string  `json:"currentStep"`
	FullRowsDone   int64   `json:"fullRowsDone"`
	FullRowsTotal  int64   `json:"fullRowsTotal"`
	FullPercent    float64 `json:"fullTransferProgress"`
	IncrLagSeconds float64 `json:"incrSyncDelay"`
	IncrPosition   string  `json:"incrSyncCheckpoint,omitempty"`
	VerifyPercent  float64 `json:"fullVerifyProgress"`
	VerifyDiffs    int64   `json:"fullVerifyDifferences"`
	VerifyFinished bool    `json:"fullVerifyFinished"`
	Steps          []Step  `json:"steps"`
}

// Component is one data component task of a project, as the CM and its supervisor see it.
type Component struct {
	ID           string  `json:"id"`
	ProjectID    string  `json:"projectId"`
	Kind         string  `json:"kind"`
	Region       string  `json:"region"`
	Host         string  `json:"host"`
	Epoch        int64   `json:"epoch"`
	DesiredState string  `json:"desiredState"`
	State        string  `json:"state"`
	Position     string  `json:"position,omitempty"`
	LagSeconds   float64 `json:"lagSeconds,omitempty"`
	ErrorCode    string  `json:"errorCode,omitempty"`
	ErrorMessage string  `json:"errorMessage,omitempty"`
	ErrorAdvice  string  `json:"errorAdvice,omitempty"` // what to do about the error
	// StoppedAt is the source transaction (GTID) the component stopped at: what "skip the event"
	// skips.
	StoppedAt string             `json:"stoppedAt,omitempty"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	UpdatedAt time.Time          `json:"gmtModified"`
}

// ListComponentsRequest filters components (empty: all).
type ListComponentsRequest struct {
	ProjectID string `json:"projectId,omitempty" maxlen:"projects.id"`
}

// Host is one oms node as the CM sees it.
type Host struct {
	IP             string    `json:"ip"`
	Region         string    `json:"region"`
	State          string    `json:"state"`
	CMPort         int       `json:"cmPort"`
	ConsolePort    int       `json:"consolePort"`
	SupervisorPort int       `json:"supervisorPort"`
	Version        string    `json:"version"`
	LastBeat       time.Time `json:"lastHeartbeat"`
	CPUPercent     float64   `json:"cpuPercent"`
	MemUsedBytes   int64     `json:"memUsedBytes"`
	MemTotalBytes  int64     `json:"memTotalBytes"`
	DiskUsedBytes  int64     `json:"diskUsedBytes"`
	DiskTotalBytes int64     `json:"diskTotalBytes"`
	Components     int       `json:"components"`
	// CertNotAfter is when the node's cluster certificate expires (nil: not reported yet).
	CertNotAfter *time.Time `json:"certNotAfter,omitempty"`
}

// Empty is the data of calls that return nothing.
type Empty struct{}

// Actions of sessions, users, the audit log and data source editing (the web console uses them).
const (
	ActionLogin                 = "Login"
	ActionLogout                = "Logout"
	ActionDescribeSession       = "DescribeSession"
	ActionChangePassword        = "ChangePassword"
	ActionCreateUser            = "CreateUser"
	ActionListUsers             = "ListUsers"
	ActionUpdateUser            = "UpdateUser"
	ActionDeleteUser            = "DeleteUser"
	ActionListAuditEvents       = "ListAuditEvents"
	ActionUpdateMysqlDataSource = "UpdateMysqlDataSource"
	ActionTestDataSource        = "TestDataSource"
	ActionValidateProject       = "ValidateProject"
)

// User roles, weakest first: a viewer reads, an operator also changes projects and data sources,
// an admin also manages users.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// LoginRequest opens a console session (a cookie plus a CSRF token).
type LoginRequest struct {
	UserName string `json:"userName" maxlen:"users.username"`
	Password string `json:"password" maxlen:"bcrypt"`
}

// Session is the caller's session: the CSRF token goes in the X-CSRF-Token header of every call
// made with the session cookie.
type Session struct {
	UserName           string `json:"userName"`
	Role               string `json:"role"`
	CSRFToken          string `json:"csrfToken,omitempty"`
	IdleTimeoutSeconds int    `json:"idleTimeoutSeconds"`
}

// ChangePasswordRequest changes the caller's own password.
type ChangePasswordRequest struct {
	OldPassword string `json:"oldPassword" maxlen:"bcrypt"`
	NewPassword string `json:"newPassword" maxlen:"bcrypt"`
}

// CreateUserRequest creates a console user (admin only).
type CreateUserRequest struct {
	UserName string `json:"userName" maxlen:"users.username"`
	Password string `json:"password" maxlen:"bcrypt"`
	Role     string `json:"role" maxlen:"users.role"`
}

// UpdateUserRequest changes a user's role and/or resets its password (admin only; empty fields
// are kept).
type UpdateUserRequest struct {
	UserName string `json:"userName" maxlen:"users.username"`
	Role     string `json:"role,omitempty" maxlen:"users.role"`
	Password string `json:"password,omitempty" maxlen:"bcrypt"`
}

// UserNameRequest names one user.
type UserNameRequest struct {
	UserName string `json:"userName" maxlen:"users.username"`
}

// User is a console user (never with its password hash).
type User struct {
	UserName  string    `json:"userName"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"gmtCreate"`
}

// ListAuditEventsRequest filters the audit log; times are RFC 3339, newest events first.
type ListAuditEventsRequest struct {
	UserName   string `json:"userName,omitempty" maxlen:"audit_log.username"`
	Action     string `json:"action,omitempty" maxlen:"audit_log.action"`
	Resource   string `json:"resource,omitempty" maxlen:"audit_log.resource"`
	Success    *bool  `json:"success,omitempty"`
	From       string `json:"from,omitempty" maxlen:"value"`
	To         string `json:"to,omitempty" maxlen:"value"`
	PageNumber int    `json:"pageNumber,omitempty"`
	PageSize   int    `json:"pageSize,omitempty"`
}

// AuditEvent is one audit log row.
type AuditEvent struct {
	ID         int64     `json:"id"`
	Time       time.Time `json:"time"`
	Origin     string    `json:"origin"` // api, cli, deploy or config
	UserName   string    `json:"userName"`
	RemoteAddr string    `json:"remoteAddr"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource,omitempty"`
	Success    bool      `json:"success"`
	Detail     string    `json:"detail,omitempty"`
	RequestID  string    `json:"requestId,omitempty"`
}

// UpdateMysqlDataSourceRequest edits a data source; empty fields (and an empty password) are kept.
type UpdateMysqlDataSourceRequest struct {
	ID          string  `json:"id" maxlen:"data_sources.id"`
	Host        string  `json:"host,omitempty" maxlen:"data_sources.host"`
	Port        int     `json:"port,omitempty"`
	UserName    string  `json:"userName,omitempty" maxlen:"data_sources.username"`
	Password    string  `json:"password,omitempty" maxlen:"sealed:data_sources.password_enc"`
	Region      string  `json:"region,omitempty" maxlen:"data_sources.region"`
	Description *string `json:"description,omitempty" maxlen:"data_sources.description"`
	// TLSMode and TLSCA as in CreateMysqlDataSourceRequest; empty mode and nil CA keep the stored
	// values, an empty CA removes it.
	TLSMode string  `json:"tlsMode,omitempty" maxlen:"data_sources.tls_mode"`
	TLSCA   *string `json:"tlsCa,omitempty" maxlen:"data_sources.tls_ca"`
}

// TestDataSourceRequest tests a connection: a stored data source by id, or the given endpoint
// (with id and no password, the stored password is used with the given host/port/user).
type TestDataSourceRequest struct {
	ID       string `json:"id,omitempty" maxlen:"data_sources.id"`
	Host     string `json:"host,omitempty" maxlen:"data_sources.host"`
	Port     int    `json:"port,omitempty"`
	UserName string `json:"userName,omitempty" maxlen:"data_sources.username"`
	Password string `json:"password,omitempty" maxlen:"sealed:data_sources.password_enc"`
	// TLSMode and TLSCA replace the stored TLS settings when TLSMode is given.
	TLSMode string `json:"tlsMode,omitempty" maxlen:"data_sources.tls_mode"`
	TLSCA   string `json:"tlsCa,omitempty" maxlen:"data_sources.tls_ca"`
}

// TestDataSourceResult is the outcome of a connection test (a failed connection is a result,
// not an API error).
type TestDataSourceResult struct {
	OK        bool   `json:"ok"`
	Version   string `json:"version,omitempty"`
	Message   string `json:"message"`
	LatencyMS int64  `json:"latencyMs"`
}
