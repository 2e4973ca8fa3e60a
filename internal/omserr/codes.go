package omserr

import "net/http"

// The error codes: stable strings that operators, scripts and the console match on. Every code
// oms returns is a constant here and an entry of the list below (its area, the HTTP status an
// HTTP edge answers with, and what it means); docs/errors.md is generated from that list
// (TestErrorsDoc, OMS_UPDATE_DOCS=1 to rewrite it). Never write a code as a string literal
// elsewhere: TestNoCodeLiterals fails.
const (
	APIAdminPasswordMissing = "API_ADMIN_PASSWORD_MISSING"
	APIAdminPasswordWeak    = "API_ADMIN_PASSWORD_WEAK"
	APIAlreadyExists        = "API_ALREADY_EXISTS"
	APIBadRequest           = "API_BAD_REQUEST"
	APIBodyTooLarge         = "API_BODY_TOO_LARGE"
	APICSRFTokenInvalid     = "API_CSRF_TOKEN_INVALID"
	APIForbidden            = "API_FORBIDDEN"
	APIInternalError        = "API_INTERNAL_ERROR"
	APIInvalidArgument      = "API_INVALID_ARGUMENT"
	APINotFound             = "API_NOT_FOUND"
	APIStateConflict        = "API_STATE_CONFLICT"
	APITooManyRequests      = "API_TOO_MANY_REQUESTS"
	APIUnauthorized         = "API_UNAUTHORIZED"
	APIUnknownAction        = "API_UNKNOWN_ACTION"

	CMRegionConflict = "CM_REGION_CONFLICT"

	ClusterCAInvalid       = "CLUSTER_CA_INVALID"
	ClusterCertInvalid     = "CLUSTER_CERT_INVALID"
	ClusterForbidden       = "CLUSTER_FORBIDDEN"
	ClusterUnauthenticated = "CLUSTER_UNAUTHENTICATED"

	ComponentCrashed     = "COMPONENT_CRASHED"
	ComponentFailed      = "COMPONENT_FAILED"
	ComponentStartFailed = "COMPONENT_START_FAILED"

	ConfigFullInvalid   = "CONFIG_FULL_INVALID"
	ConfigFullSelection = "CONFIG_FULL_SELECTION"

	DeployDowngrade       = "DEPLOY_DOWNGRADE"
	DeployDrainTimeout    = "DEPLOY_DRAIN_TIMEOUT"
	DeployHostCheck       = "DEPLOY_HOST_CHECK"
	DeployPackageInvalid  = "DEPLOY_PACKAGE_INVALID"
	DeployRegionConflict  = "DEPLOY_REGION_CONFLICT"
	DeployRegionDown      = "DEPLOY_REGION_DOWN"
	DeployTSDBAuth        = "DEPLOY_TSDB_AUTH"
	DeployTSDBError       = "DEPLOY_TSDB_ERROR"
	DeployTSDBUnreachable = "DEPLOY_TSDB_UNREACHABLE"

	FenceClaimTimeout = "FENCE_CLAIM_TIMEOUT"
	FenceKillDenied   = "FENCE_KILL_DENIED"

	FilterClause        = "FILTER_CLAUSE"
	FilterColumnUnknown = "FILTER_COLUMN_UNKNOWN"
	FilterComment       = "FILTER_COMMENT"
	FilterFunction      = "FILTER_FUNCTION"
	FilterInto          = "FILTER_INTO"
	FilterNotAllowed    = "FILTER_NOT_ALLOWED"
	FilterStatements    = "FILTER_STATEMENTS"
	FilterSubquery      = "FILTER_SUBQUERY"
	FilterSyntax        = "FILTER_SYNTAX"
	FilterTooLong       = "FILTER_TOO_LONG"
	FilterUnion         = "FILTER_UNION"
	FilterVariable      = "FILTER_VARIABLE"

	FullConnect        = "FULL_CONNECT"
	FullFenced         = "FULL_FENCED"
	FullFailed         = "FULL_FAILED"
	FullObjectsFailed  = "FULL_OBJECTS_FAILED"
	FullTargetNotEmpty = "FULL_TARGET_NOT_EMPTY"

	IncrApplyFailed       = "INCR_APPLY_FAILED"
	IncrCheckpointCorrupt = "INCR_CHECKPOINT_CORRUPT"
	IncrCheckpointSetup   = "INCR_CHECKPOINT_SETUP"
	IncrColumnsMissingKey = "INCR_COLUMNS_MISSING_KEY"
	IncrColumnUnknown     = "INCR_COLUMN_UNKNOWN"
	IncrConfigInvalid     = "INCR_CONFIG_INVALID"
	IncrDDLFailed         = "INCR_DDL_FAILED"
	IncrDDLUnsupported    = "INCR_DDL_UNSUPPORTED"
	IncrFenced            = "INCR_FENCED"
	IncrRowConflict       = "INCR_ROW_CONFLICT"
	IncrRowFilter         = "INCR_ROW_FILTER"
	IncrSourcePosition    = "INCR_SOURCE_POSITION"
	IncrTargetUnavailable = "INCR_TARGET_UNAVAILABLE"
	IncrTargetUnreachable = "INCR_TARGET_UNREACHABLE"

	MetaDBLocked             = "METADB_LOCKED"
	MetaDBMigrationFailed    = "METADB_MIGRATION_FAILED"
	MetaDBNotWritable        = "METADB_NOT_WRITABLE"
	MetaDBSchemaNewer        = "METADB_SCHEMA_NEWER"
	MetaDBUnreachable        = "METADB_UNREACHABLE"
	MetaDBUnsupportedVersion = "METADB_UNSUPPORTED_VERSION"

	NodeHostIPMissing = "NODE_HOST_IP_MISSING"
	NodeHostIPUnknown = "NODE_HOST_IP_UNKNOWN"
	NodeListen        = "NODE_LISTEN"
	NodeTLSInvalid    = "NODE_TLS_INVALID"

	PrecheckFailed = "PRECHECK_FAILED"

	SpecInvalid    = "SPEC_INVALID"
	SpecUnreadable = "SPEC_UNREADABLE"
	StatusListen   = "STATUS_LISTEN"

	SwitchAborted        = "SWITCH_ABORTED"
	SwitchFenceFailed    = "SWITCH_FENCE_FAILED"
	SwitchPrecheckFailed = "SWITCH_PRECHECK_FAILED"

	StoreBadRequest        = "STORE_BAD_REQUEST"
	StoreBinlogFormat      = "STORE_BINLOG_FORMAT"
	StoreBinlogOff         = "STORE_BINLOG_OFF"
	StoreCaptureFailed     = "STORE_CAPTURE_FAILED"
	StoreConfig            = "STORE_CONFIG"
	StoreDirLocked         = "STORE_DIR_LOCKED"
	StoreListen            = "STORE_LISTEN"
	StorePositionPurged    = "STORE_POSITION_PURGED"
	StorePrivilege         = "STORE_PRIVILEGE"
	StoreRowImage          = "STORE_ROW_IMAGE"
	StoreRowMetadata       = "STORE_ROW_METADATA"
	StoreSchemaUnknown     = "STORE_SCHEMA_UNKNOWN"
	StoreServerIDClash     = "STORE_SERVER_ID_CLASH"
	StoreSourcePurged      = "STORE_SOURCE_PURGED"
	StoreSourceUnreachable = "STORE_SOURCE_UNREACHABLE"
	StoreUnavailable       = "STORE_UNAVAILABLE"

	TwoWayClockSkew       = "TWOWAY_CLOCK_SKEW"
	TwoWayConfigInvalid   = "TWOWAY_CONFIG_INVALID"
	TwoWayConflict        = "TWOWAY_CONFLICT"
	TwoWayDDLWrongRegion  = "TWOWAY_DDL_WRONG_REGION"
	TwoWayMarkerNotLogged = "TWOWAY_MARKER_NOT_LOGGED"
	TwoWaySameServer      = "TWOWAY_SAME_SERVER"
	TwoWaySameServerID    = "TWOWAY_SAME_SERVER_ID"

	VerifyColumnMissing    = "VERIFY_COLUMN_MISSING"
	VerifyConfigInvalid    = "VERIFY_CONFIG_INVALID"
	VerifyConnect          = "VERIFY_CONNECT"
	VerifyFailed           = "VERIFY_FAILED"
	VerifyKeyNotCompared   = "VERIFY_KEY_NOT_COMPARED"
	VerifyNothingSelected  = "VERIFY_NOTHING_SELECTED"
	VerifyNoPrevious       = "VERIFY_NO_PREVIOUS"
	VerifySourceUnreadable = "VERIFY_SOURCE_UNREADABLE"
	VerifyTableMissing     = "VERIFY_TABLE_MISSING"
	VerifyTargetUnreadable = "VERIFY_TARGET_UNREADABLE"
)

// Areas are the code prefixes: the part of oms that returns the code.
var Areas = map[string]string{
	"API":       "the console's OpenAPI and the other HTTP edges",
	"CLUSTER":   "the cluster's identities and TLS on internal links (CA, certificates, callers)",
	"CM":        "the cluster manager (regions, hosts, task placement)",
	"COMPONENT": "a data component process as its supervisor sees it",
	"CONFIG":    "a component's kind-specific configuration",
	"DEPLOY":    "oms deploy: hosts, packages, regions, the time-series database",
	"FENCE":     "the target-side epoch fence of a writing component (incr-sync, full-import)",
	"FILTER":    "a selection rule's row filter (where), at project creation and component start",
	"FULL":      "full-import",
	"INCR":      "incr-sync",
	"METADB":    "the MetaDB",
	"NODE":      "oms node start-up",
	"PRECHECK":  "a project's precheck",
	"SPEC":      "a component spec file",
	"STATUS":    "a component's status server",
	"STORE":     "the Store (binlog capture and its consumer stream)",
	"SWITCH":    "a project's switchover or rollback (the application moves to the other side)",
	"TWOWAY":    "active-active (two-way) sync: echo prevention, conflicts, DDL direction",
	"VERIFY":    "full-verify",
}

// Info is one code of the list.
type Info struct {
	Code    string
	Area    string
	Status  int    // HTTP status an HTTP edge answers with
	Meaning string // one line
}

const s500 = http.StatusInternalServerError

var codes = []Info{
	{APIAdminPasswordMissing, "API", s500, "the first node started without an admin password"},
	{APIAdminPasswordWeak, "API", s500, "the admin password given at first start is shorter than 8 characters"},
	{APIAlreadyExists, "API", http.StatusConflict, "an object with this name already exists"},
	{APIBadRequest, "API", http.StatusBadRequest, "the request is malformed: method, body, JSON shape or unknown field"},
	{APIBodyTooLarge, "API", http.StatusRequestEntityTooLarge, "the request body is larger than 1 MiB"},
	{APICSRFTokenInvalid, "API", http.StatusForbidden, "a call with the console's session cookie lacks the session's X-CSRF-Token header"},
	{APIForbidden, "API", http.StatusForbidden, "the user's role does not allow this action (viewer < operator < admin)"},
	{APIInternalError, "API", s500, "an unexpected failure; the node's log has the request id"},
	{APIInvalidArgument, "API", http.StatusBadRequest, "a field of the request has an invalid value"},
	{APINotFound, "API", http.StatusNotFound, "the named object does not exist"},
	{APIStateConflict, "API", http.StatusConflict, "the object's state does not allow this action now"},
	{APITooManyRequests, "API", http.StatusTooManyRequests, "too many failed logins from this client or for this user; retry after Retry-After seconds"},
	{APIUnauthorized, "API", http.StatusUnauthorized, "missing or wrong credentials"},
	{APIUnknownAction, "API", http.StatusBadRequest, "the Action parameter names no known action"},

	{ClusterCAInvalid, "CLUSTER", s500, "the cluster CA in the MetaDB cannot be read or the CA to import is not a CA"},
	{ClusterCertInvalid, "CLUSTER", s500, "a node's or component's cluster certificate cannot be loaded"},
	{ClusterForbidden, "CLUSTER", http.StatusForbidden, "the caller's cluster identity may not do this (e.g. another task's Store consumer)"},
	{ClusterUnauthenticated, "CLUSTER", http.StatusUnauthorized, "an internal endpoint was called without a cluster client certificate"},

	{CMRegionConflict, "CM", s500, "the region's cm_location or name clashes with one already registered"},

	{ComponentCrashed, "COMPONENT", s500, "a component process exited again and again; the supervisor gave up restarting it"},
	{ComponentFailed, "COMPONENT", s500, "a component failed without reporting an error of its own"},
	{ComponentStartFailed, "COMPONENT", s500, "the supervisor could not start a component process"},

	{ConfigFullInvalid, "CONFIG", s500, "the full-import config is invalid"},
	{ConfigFullSelection, "CONFIG", s500, "the full-import selection is invalid"},

	{DeployDowngrade, "DEPLOY", s500, "oms upgrade refused: the package is older than a node's version"},
	{DeployDrainTimeout, "DEPLOY", s500, "oms upgrade: a node's components did not move to other nodes in time"},
	{DeployHostCheck, "DEPLOY", s500, "a host failed the pre-install check (ports, tools, disk)"},
	{DeployPackageInvalid, "DEPLOY", s500, "the package given with -d is not an oms package"},
	{DeployRegionConflict, "DEPLOY", s500, "the deploy config clashes with a region already registered"},
	{DeployRegionDown, "DEPLOY", s500, "no node of the region runs after the deploy"},
	{DeployTSDBAuth, "DEPLOY", s500, "the time-series database refuses the configured user"},
	{DeployTSDBError, "DEPLOY", s500, "the time-series database answered with an error"},
	{DeployTSDBUnreachable, "DEPLOY", s500, "the time-series database does not answer"},

	{FenceClaimTimeout, "FENCE", s500, "a new epoch could not take over the target: the fence row stayed locked"},
	{FenceKillDenied, "FENCE", s500, "the target user may not end an older writer's connection"},

	{FilterClause, "FILTER", http.StatusBadRequest, "the row filter has a clause after the expression: ORDER BY, LIMIT, GROUP BY or FOR UPDATE"},
	{FilterColumnUnknown, "FILTER", http.StatusBadRequest, "the row filter names a column the source table does not have"},
	{FilterComment, "FILTER", http.StatusBadRequest, "the row filter holds a comment (/* */, -- or #) or an optimizer hint"},
	{FilterFunction, "FILTER", http.StatusBadRequest, "the row filter calls a function not on the allow-list (e.g. SLEEP, BENCHMARK, NOW, RAND, CAST or a stored function)"},
	{FilterInto, "FILTER", http.StatusBadRequest, "the row filter holds INTO (OUTFILE, DUMPFILE, variables)"},
	{FilterNotAllowed, "FILTER", http.StatusBadRequest, "the row filter holds a construct not allowed in a filter (e.g. a qualified column, a placeholder or ILIKE)"},
	{FilterStatements, "FILTER", http.StatusBadRequest, "the row filter holds a ';' outside quotes: more than one statement"},
	{FilterSubquery, "FILTER", http.StatusBadRequest, "the row filter holds a subquery, EXISTS or WITH"},
	{FilterSyntax, "FILTER", http.StatusBadRequest, "the row filter is empty or not a valid MySQL expression"},
	{FilterTooLong, "FILTER", http.StatusBadRequest, "the row filter is longer than 4096 bytes"},
	{FilterUnion, "FILTER", http.StatusBadRequest, "the row filter holds a UNION, EXCEPT or INTERSECT"},
	{FilterVariable, "FILTER", http.StatusBadRequest, "the row filter reads a user or system variable (@x, @@x)"},

	{FullConnect, "FULL", s500, "full-import cannot connect to the source or the target"},
	{FullFenced, "FULL", s500, "a newer epoch owns the target; this full-import must stop"},
	{FullFailed, "FULL", s500, "full-import failed without a more specific code"},
	{FullObjectsFailed, "FULL", s500, "some schema objects were not migrated"},
	{FullTargetNotEmpty, "FULL", s500, "target tables already hold rows"},

	{IncrApplyFailed, "INCR", s500, "the target refused a change in a way retrying cannot fix"},
	{IncrCheckpointCorrupt, "INCR", s500, "the checkpoint row in the target cannot be read"},
	{IncrCheckpointSetup, "INCR", s500, "the checkpoint tables cannot be created in the target"},
	{IncrColumnsMissingKey, "INCR", s500, "a column subset leaves out key columns"},
	{IncrColumnUnknown, "INCR", s500, "a selected column does not exist in the source table"},
	{IncrConfigInvalid, "INCR", s500, "the incr-sync config is invalid"},
	{IncrDDLFailed, "INCR", s500, "a replicated DDL statement failed on the target"},
	{IncrDDLUnsupported, "INCR", s500, "a DDL statement cannot be replicated under the table mapping"},
	{IncrFenced, "INCR", s500, "a newer epoch owns the target; this incr-sync must stop"},
	{IncrRowConflict, "INCR", s500, "strict mode: an insert found the row, or an update/delete did not"},
	{IncrRowFilter, "INCR", s500, "a row filter cannot be evaluated on a row"},
	{IncrSourcePosition, "INCR", s500, "the source's current GTID position cannot be read"},
	{IncrTargetUnavailable, "INCR", s500, "the target kept failing for longer than the retry budget"},
	{IncrTargetUnreachable, "INCR", s500, "incr-sync cannot connect to the target"},

	{MetaDBLocked, "METADB", s500, "another node holds the MetaDB initialisation lock"},
	{MetaDBMigrationFailed, "METADB", s500, "a MetaDB schema migration failed"},
	{MetaDBNotWritable, "METADB", s500, "the MetaDB user cannot create or write an oms database"},
	{MetaDBSchemaNewer, "METADB", s500, "the MetaDB schema is newer than this binary"},
	{MetaDBUnreachable, "METADB", s500, "the MetaDB server cannot be reached"},
	{MetaDBUnsupportedVersion, "METADB", s500, "the MetaDB server's product or version is not supported"},

	{NodeHostIPMissing, "NODE", s500, "this host's IP is not set"},
	{NodeHostIPUnknown, "NODE", s500, "this host's IP is not one of cm_nodes"},
	{NodeListen, "NODE", s500, "a node server cannot listen on its port"},
	{NodeTLSInvalid, "NODE", s500, "the HTTPS certificate or key cannot be loaded"},

	{PrecheckFailed, "PRECHECK", s500, "a project's precheck found problems"},

	{SpecInvalid, "SPEC", s500, "a component spec is not valid"},
	{SpecUnreadable, "SPEC", s500, "a component spec file cannot be read"},
	{StatusListen, "STATUS", s500, "a component cannot listen on its status address"},

	{SwitchAborted, "SWITCH", s500, "a switchover or rollback stopped before the handover and undid its fence; the old primary takes writes again"},
	{SwitchFenceFailed, "SWITCH", s500, "oms could not set or clear read_only on a primary (privilege SUPER or READ_ONLY ADMIN missing?)"},
	{SwitchPrecheckFailed, "SWITCH", http.StatusConflict, "the switchover/rollback precheck refused: lag, a failed component, a verification with differences or the other side's binlog"},

	{StoreBadRequest, "STORE", http.StatusBadRequest, "a consumer's request to the Store is malformed"},
	{StoreBinlogFormat, "STORE", s500, "the source's binlog_format is not ROW"},
	{StoreBinlogOff, "STORE", s500, "the source has no binary log"},
	{StoreCaptureFailed, "STORE", s500, "the Store's capture failed without a more specific code"},
	{StoreConfig, "STORE", s500, "the Store config is invalid"},
	{StoreDirLocked, "STORE", s500, "another Store process uses the segment directory"},
	{StoreListen, "STORE", s500, "the Store cannot listen for consumers"},
	{StorePositionPurged, "STORE", http.StatusGone, "the Store no longer keeps the position a consumer asks for"},
	{StorePrivilege, "STORE", s500, "the source user lacks replication privileges"},
	{StoreRowImage, "STORE", s500, "the source's binlog_row_image is not FULL"},
	{StoreRowMetadata, "STORE", s500, "the source's binlog_row_metadata is not FULL (column names are not in the binlog)"},
	{StoreSchemaUnknown, "STORE", s500, "the columns of a table at a binlog position cannot be told"},
	{StoreServerIDClash, "STORE", s500, "the Store's server_id is used by the source or another replica"},
	{StoreSourcePurged, "STORE", s500, "the source no longer has the binlog the Store needs"},
	{StoreSourceUnreachable, "STORE", s500, "the Store cannot connect to or query the source"},
	{StoreUnavailable, "STORE", http.StatusServiceUnavailable, "the Store cannot serve now (stopping, failed, unreachable)"},

	{TwoWayClockSkew, "TWOWAY", s500, "last-writer-wins refused a conflict: the regions' clocks differ by more than the rule's max_skew_ms"},
	{TwoWayConfigInvalid, "TWOWAY", http.StatusBadRequest, "the two-way settings (regions, priority, conflict policies) are invalid"},
	{TwoWayConflict, "TWOWAY", s500, "a conflict under the policy stop: both regions changed the same row"},
	{TwoWayDDLWrongRegion, "TWOWAY", s500, "a DDL came from the region that is not the designated DDL region (and other_region_ddl of its class is stop)"},
	{TwoWayMarkerNotLogged, "TWOWAY", s500, "oms's echo marker table is excluded from a database's binlog: applied changes would loop"},
	{TwoWaySameServer, "TWOWAY", s500, "both sides of a two-way sync are the same database server"},
	{TwoWaySameServerID, "TWOWAY", s500, "both sides of a two-way sync have the same server_id or server_uuid"},

	{VerifyColumnMissing, "VERIFY", s500, "a compared column is missing on one side"},
	{VerifyConfigInvalid, "VERIFY", s500, "the full-verify config is invalid"},
	{VerifyConnect, "VERIFY", s500, "full-verify cannot connect to the source or the target"},
	{VerifyFailed, "VERIFY", s500, "full-verify failed without a more specific code"},
	{VerifyKeyNotCompared, "VERIFY", s500, "a key column is left out of the compared columns"},
	{VerifyNothingSelected, "VERIFY", s500, "the selection matches no source table"},
	{VerifyNoPrevious, "VERIFY", s500, "only_previous_differences is set but there is no previous run"},
	{VerifySourceUnreadable, "VERIFY", s500, "the source's tables or definitions cannot be read"},
	{VerifyTableMissing, "VERIFY", s500, "a selected table does not exist on the target"},
	{VerifyTargetUnreadable, "VERIFY", s500, "the target's table definitions cannot be read"},
}

var byCode = func() map[string]Info {
	m := make(map[string]Info, len(codes))
	for _, c := range codes {
		m[c.Code] = c
	}
	return m
}()

// Codes returns the list, in its order.
func Codes() []Info { return append([]Info(nil), codes...) }

// Lookup returns the list's entry for code.
func Lookup(code string) (Info, bool) {
	i, ok := byCode[code]
	return i, ok
}

// HTTPStatus is the status an HTTP edge answers an error with code: the list's entry, 500 for a
// code not in it (or no code).
func HTTPStatus(code string) int {
	if i, ok := byCode[code]; ok {
		return i.Status
	}
	return s500
}

// permanent are the codes of failures that a restart meets again unchanged: the configuration,
// the data or a privilege is wrong, or a newer epoch owns the work. A component that stops with
// one of them is FAILED at once (the operator sees the error and acts: skip, fix, resume), not
// restarted by its supervisor. Any other code (an unreachable peer, a lock, an unknown failure)
// may pass by itself, so the supervisor restarts the component with backoff first.
var permanent = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range []string{
		ConfigFullInvalid, ConfigFullSelection, SpecInvalid, FenceKillDenied,
		FullFenced, FullObjectsFailed, FullTargetNotEmpty,
		IncrCheckpointCorrupt, IncrColumnsMissingKey, IncrColumnUnknown, IncrConfigInvalid, IncrDDLFailed,
		IncrDDLUnsupported, IncrFenced, IncrRowConflict, IncrRowFilter,
		StoreBinlogFormat, StoreBinlogOff, StoreConfig, StorePrivilege, StoreRowImage, StoreRowMetadata, StoreSourcePurged,
		VerifyColumnMissing, VerifyConfigInvalid, VerifyKeyNotCompared, VerifyNoPrevious, VerifyNothingSelected, VerifyTableMissing,
	} {
		m[c] = true
	}
	for _, c := range codes {
		if c.Area == "FILTER" { // a row filter that cannot be read never becomes readable
			m[c.Code] = true
		}
	}
	return m
}()

// Permanent reports whether a failure with code needs the operator before anything is tried
// again (see permanent).
func Permanent(code string) bool { return permanent[code] }
