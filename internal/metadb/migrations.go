package metadb

import "github.com/omsdev/oms/internal/buildinfo"

// Migration is one forward step of one database's schema. Statements must be idempotent
// (CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, ...): a crash between a statement and
// the migration's record re-runs it. Never edit a released migration; append a new one.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// migrationsTable is the table (and its columns) in which each database records its applied
// migrations.
const migrationsTable = `oms_schema_migrations (
		version INT NOT NULL PRIMARY KEY,
		name VARCHAR(128) NOT NULL,
		binary_version VARCHAR(64) NOT NULL,
		applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
	) ENGINE=InnoDB`

// binaryVersion is recorded with each migration: the version and a short commit, cut to the
// column so a long `git describe` (tag-N-gHASH-dirty) never fails a migration.
func binaryVersion() string {
	c := buildinfo.CommitID()
	if len(c) > 12 {
		c = c[:12]
	}
	v := buildinfo.Version + "+" + c
	if n, _, _ := MaxLength("oms_schema_migrations.binary_version"); len(v) > n {
		v = v[:n]
	}
	return v
}

// Migrations returns the ordered steps of database kind k.
func Migrations(k Kind) []Migration {
	switch k {
	case KindRM:
		return rmMigrations
	case KindCM:
		return cmMigrations
	}
	return hbMigrations
}

var rmMigrations = []Migration{{
	Version: 1, Name: "console: users, data sources, projects, steps, audit",
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS users (
			id BIGINT AUTO_INCREMENT PRIMARY KEY,
			username VARCHAR(64) NOT NULL UNIQUE,
			password_hash VARCHAR(255) NOT NULL,
			role VARCHAR(32) NOT NULL DEFAULT 'admin',
			created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS data_sources (
			id VARCHAR(64) NOT NULL PRIMARY KEY,
			name VARCHAR(128) NOT NULL UNIQUE,
			type VARCHAR(32) NOT NULL,
			host VARCHAR(255) NOT NULL,
			port INT NOT NULL,
			username VARCHAR(128) NOT NULL,
			password_enc VARBINARY(1024) NOT NULL COMMENT 'encrypted at rest',
			region VARCHAR(64) NOT NULL DEFAULT '',
			description VARCHAR(1024) NOT NULL DEFAULT '',
			created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS projects (
			id VARCHAR(64) NOT NULL PRIMARY KEY,
			name VARCHAR(128) NOT NULL,
			state VARCHAR(32) NOT NULL,
			source_id VARCHAR(64) NOT NULL,
			target_id VARCHAR(64) NOT NULL,
			spec JSON NOT NULL,
			error_code VARCHAR(64) NOT NULL DEFAULT '',
			error_message TEXT,
			created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
			KEY idx_state (state)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS project_steps (
			project_id VARCHAR(64) NOT NULL,
			step VARCHAR(64) NOT NULL,
			seq INT NOT NULL,
			status VARCHAR(32) NOT NULL,
			progress DOUBLE NOT NULL DEFAULT 0,
			metrics JSON,
			message TEXT,
			started_at DATETIME(6) NULL,
			finished_at DATETIME(6) NULL,
			PRIMARY KEY (project_id, step)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS audit_log (
			id BIGINT AUTO_INCREMENT PRIMARY KEY,
			at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			username VARCHAR(64) NOT NULL,
			remote_addr VARCHAR(128) NOT NULL,
			action VARCHAR(128) NOT NULL,
			resource VARCHAR(255) NOT NULL DEFAULT '',
			success TINYINT(1) NOT NULL,
			detail TEXT,
			request_id VARCHAR(64) NOT NULL DEFAULT '',
			KEY idx_at (at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	},
}, {
	Version: 2, Name: "audit: the origin of each record, one durable export cursor per sink",
	Statements: []string{
		`ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS origin VARCHAR(16) NOT NULL DEFAULT 'api' COMMENT 'api, cli, deploy or config' AFTER at`,
		`ALTER TABLE audit_log ADD INDEX IF NOT EXISTS idx_action_at (action, at)`,
		`CREATE TABLE IF NOT EXISTS audit_sinks (
			sink VARCHAR(255) NOT NULL PRIMARY KEY COMMENT 'file:<path> or http:<url>',
			last_id BIGINT NOT NULL DEFAULT 0 COMMENT 'audit_log.id of the last delivered record',
			delivered_total BIGINT NOT NULL DEFAULT 0,
			failing_since DATETIME(6) NULL,
			last_error TEXT,
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	},
}, {
	Version: 3, Name: "console sessions (shared by every node so a region VIP can fail over)",
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS sessions (
			id CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY COMMENT 'sha256 of the cookie value',
			username VARCHAR(64) NOT NULL,
			csrf_token CHAR(64) CHARACTER SET ascii NOT NULL,
			remote_addr VARCHAR(128) NOT NULL DEFAULT '',
			created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			last_seen_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			KEY idx_user (username),
			KEY idx_last_seen (last_seen_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`ALTER TABLE audit_log ADD INDEX IF NOT EXISTS idx_user_at (username, at)`,
	},
}, {
	Version: 4, Name: "data sources: TLS mode and the CA to trust",
	Statements: []string{
		`ALTER TABLE data_sources ADD COLUMN IF NOT EXISTS tls_mode VARCHAR(32) NOT NULL DEFAULT 'preferred' AFTER password_enc`,
		`ALTER TABLE data_sources ADD COLUMN IF NOT EXISTS tls_ca TEXT COMMENT 'PEM of the CA for verify-ca and verify-identity' AFTER tls_mode`,
	},
}, {
	Version: 5, Name: "verification results uploaded by the supervisor that ran the full verification",
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS verification_results (
			project_id VARCHAR(64) NOT NULL PRIMARY KEY COMMENT 'the last finished verification of each project',
			task_id VARCHAR(64) NOT NULL,
			host VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'where the full output dir stays',
			report LONGTEXT NOT NULL COMMENT 'report.json of the verify component',
			fix_sql LONGBLOB NOT NULL COMMENT 'the tables'' fix SQL, bounded (verifyresult.MaxFixSQLBytes)',
			fix_sql_truncated TINYINT(1) NOT NULL DEFAULT 0,
			finished_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	},
}, {
	Version: 6, Name: "two-way sync: the conflicts of each project, copied from its targets' incr_conflict tables",
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS conflicts (
			project_id VARCHAR(64) NOT NULL,
			task_id VARCHAR(191) NOT NULL,
			gtid VARCHAR(191) NOT NULL COMMENT 'source transaction',
			row_no INT NOT NULL COMMENT 'row of the transaction: (task, gtid, row) is recorded once',
			table_name VARCHAR(400) NOT NULL,
			kind VARCHAR(32) NOT NULL,
			row_key TEXT NOT NULL,
			source_image MEDIUMTEXT NULL,
			target_image MEDIUMTEXT NULL,
			source_region VARCHAR(64) NOT NULL,
			target_region VARCHAR(64) NOT NULL,
			source_commit_at DATETIME(6) NOT NULL,
			target_version VARCHAR(191) NULL,
			policy VARCHAR(16) NOT NULL,
			decision VARCHAR(16) NOT NULL,
			detected_at DATETIME(6) NOT NULL,
			PRIMARY KEY (project_id, task_id, gtid, row_no),
			KEY idx_project_detected (project_id, detected_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	},
}}

var cmMigrations = []Migration{{
	Version: 1, Name: "cluster manager: regions, hosts, resource groups, tasks, config, leases",
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS regions (
			cm_location INT NOT NULL PRIMARY KEY,
			region VARCHAR(64) NOT NULL UNIQUE,
			region_cn VARCHAR(64) NOT NULL,
			cm_url VARCHAR(255) NOT NULL,
			is_default TINYINT(1) NOT NULL DEFAULT 0,
			heartbeat_db VARCHAR(64) NOT NULL,
			created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS hosts (
			ip VARCHAR(64) NOT NULL PRIMARY KEY,
			region VARCHAR(64) NOT NULL,
			cm_port INT NOT NULL,
			console_port INT NOT NULL,
			supervisor_port INT NOT NULL,
			resource_group VARCHAR(64) NOT NULL DEFAULT 'default',
			state VARCHAR(16) NOT NULL DEFAULT 'ONLINE',
			version VARCHAR(64) NOT NULL DEFAULT '',
			registered_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			KEY idx_region (region)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS resource_groups (
			name VARCHAR(64) NOT NULL PRIMARY KEY,
			region VARCHAR(64) NOT NULL,
			description VARCHAR(255) NOT NULL DEFAULT ''
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS tasks (
			id VARCHAR(64) NOT NULL PRIMARY KEY,
			project_id VARCHAR(64) NOT NULL,
			kind VARCHAR(32) NOT NULL,
			region VARCHAR(64) NOT NULL,
			host VARCHAR(64) NOT NULL DEFAULT '',
			epoch BIGINT NOT NULL DEFAULT 0 COMMENT 'fencing token, bumped on every (re)assignment',
			desired_state VARCHAR(16) NOT NULL,
			state VARCHAR(16) NOT NULL,
			spec JSON NOT NULL,
			status JSON,
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
			KEY idx_project (project_id),
			KEY idx_host (host)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS config (
			name VARCHAR(128) NOT NULL,
			scope VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'empty: global; else a region',
			value TEXT NOT NULL,
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
			PRIMARY KEY (name, scope)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS leases (
			name VARCHAR(128) NOT NULL PRIMARY KEY,
			holder VARCHAR(128) NOT NULL,
			epoch BIGINT NOT NULL,
			expires_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	},
}, {
	Version: 2, Name: "tasks: serving address and restart count reported by the supervisor",
	Statements: []string{
		`ALTER TABLE tasks ADD COLUMN IF NOT EXISTS addr VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'where the component serves (Store consumers connect here)'`,
		`ALTER TABLE tasks ADD COLUMN IF NOT EXISTS restarts INT NOT NULL DEFAULT 0`,
		`ALTER TABLE hosts ADD COLUMN IF NOT EXISTS data_dir VARCHAR(1024) NOT NULL DEFAULT ''`,
	},
}, {
	Version: 3, Name: "alerts: rule overrides, alert states, notification outbox, channels, silences",
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS alert_rules (
			project_id VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'empty: the default for every project',
			rule VARCHAR(64) NOT NULL,
			threshold DOUBLE NOT NULL,
			for_seconds INT NOT NULL,
			enabled TINYINT(1) NOT NULL DEFAULT 1,
			PRIMARY KEY (project_id, rule)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS alerts (
			id VARCHAR(255) NOT NULL PRIMARY KEY COMMENT 'rule|subject',
			rule VARCHAR(64) NOT NULL,
			project_id VARCHAR(64) NOT NULL DEFAULT '',
			subject VARCHAR(190) NOT NULL,
			state VARCHAR(16) NOT NULL COMMENT 'pending, firing, resolved',
			version BIGINT NOT NULL COMMENT 'bumped by every transition (compare-and-set)',
			value DOUBLE NOT NULL DEFAULT 0,
			message TEXT,
			since DATETIME(6) NOT NULL COMMENT 'when the state began',
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
			KEY idx_state (state)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS alert_channels (
			name VARCHAR(64) NOT NULL PRIMARY KEY,
			kind VARCHAR(16) NOT NULL COMMENT 'webhook or email',
			config JSON NOT NULL COMMENT 'secrets sealed with the datasource key',
			enabled TINYINT(1) NOT NULL DEFAULT 1
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS alert_outbox (
			id BIGINT AUTO_INCREMENT PRIMARY KEY,
			idempotency_key VARCHAR(255) NOT NULL UNIQUE COMMENT 'alert id, version, transition and channel',
			alert_id VARCHAR(255) NOT NULL,
			channel VARCHAR(64) NOT NULL,
			transition VARCHAR(16) NOT NULL COMMENT 'firing, resolved or test',
			payload JSON NOT NULL,
			silenced TINYINT(1) NOT NULL DEFAULT 0,
			attempts INT NOT NULL DEFAULT 0,
			next_attempt_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			delivered_at DATETIME(6) NULL,
			last_error TEXT,
			created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			KEY idx_pending (delivered_at, next_attempt_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS alert_silences (
			id BIGINT AUTO_INCREMENT PRIMARY KEY,
			rule VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'empty: every rule',
			project_id VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'empty: every project',
			until_at DATETIME(6) NOT NULL,
			created_by VARCHAR(64) NOT NULL DEFAULT '',
			reason VARCHAR(255) NOT NULL DEFAULT '',
			created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	},
}, {
	Version: 4, Name: "hosts: expiry of the node's cluster certificate",
	Statements: []string{
		`ALTER TABLE hosts ADD COLUMN IF NOT EXISTS cert_not_after DATETIME(6) NULL COMMENT 'the node certificate of internal/clustertls expires then'`,
	},
}}

var hbMigrations = []Migration{{
	Version: 1, Name: "region heartbeats",
	Statements: []string{
		`CREATE TABLE IF NOT EXISTS heartbeats (
			host_ip VARCHAR(64) NOT NULL PRIMARY KEY,
			region VARCHAR(64) NOT NULL,
			beat_at DATETIME(6) NOT NULL,
			cpu_pct DOUBLE NOT NULL DEFAULT 0,
			mem_used_bytes BIGINT NOT NULL DEFAULT 0,
			mem_total_bytes BIGINT NOT NULL DEFAULT 0,
			disk_used_bytes BIGINT NOT NULL DEFAULT 0,
			disk_total_bytes BIGINT NOT NULL DEFAULT 0,
			components JSON
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	},
}, {
	Version: 2, Name: "heartbeats: the node's own clock, for the clock-skew alert",
	Statements: []string{
		`ALTER TABLE heartbeats ADD COLUMN IF NOT EXISTS node_time DATETIME(6) NULL COMMENT 'the node clock (UTC) when it wrote beat_at'`,
	},
}}
