// Package verifyresult keeps each project's last finished full verification in the rm database
// (verification_results): the supervisor that ran the verify component uploads the report and
// the fix SQL from its output folder (the data plane never touches the MetaDB), and the console
// reads them for any node's OpenAPI.
package verifyresult

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/verify"
)

// MaxFixSQLBytes bounds the fix SQL stored per project: under MariaDB's default
// max_allowed_packet (16 MiB) so one INSERT carries it. Beyond it the SQL is cut at a statement
// boundary and ends with a note naming the host and dir that keep the full files.
const MaxFixSQLBytes = 8 << 20

// Store uploads a finished full verification's report and fix SQL from
// outputDir (on this host) into the rm database, replacing the project's previous result. The
// supervisor that ran the verify component calls it: the data plane never touches the MetaDB.
func Store(ctx context.Context, db *sql.DB, rmName, projectID, taskID, host, outputDir string) error {
	raw, err := os.ReadFile(filepath.Join(outputDir, verify.ReportFile))
	if err != nil {
		return fmt.Errorf("read verification report: %w", err)
	}
	var rep verify.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("decode verification report: %w", err)
	}
	fix, truncated, err := collectFixSQL(rep, outputDir, host, MaxFixSQLBytes)
	if err != nil {
		return err
	}
	if fix == nil {
		fix = []byte{} // nothing to fix: an empty value, not NULL
	}
	_, err = db.ExecContext(ctx, "REPLACE INTO "+sqlgen.QuoteIdent(rmName)+".verification_results (project_id, task_id, host, report, fix_sql, fix_sql_truncated, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		projectID, taskID, host, string(raw), fix, truncated, rep.FinishedAt.UTC())
	if err != nil {
		return fmt.Errorf("store verification result of %s: %w", projectID, err)
	}
	return nil
}

// collectFixSQL concatenates the tables' .sql files, each after a comment naming the table, up
// to limit bytes.
func collectFixSQL(rep verify.Report, dir, host string, limit int) ([]byte, bool, error) {
	var b bytes.Buffer
	for _, t := range rep.Tables {
		if t.SQLFile == "" {
			continue
		}
		// The name comes from the report: accept a plain file name only.
		if t.SQLFile != filepath.Base(t.SQLFile) || strings.HasPrefix(t.SQLFile, ".") {
			return nil, false, fmt.Errorf("verification report names SQL file %q outside its dir", t.SQLFile)
		}
		body, err := os.ReadFile(filepath.Join(dir, t.SQLFile))
		if err != nil {
			return nil, false, fmt.Errorf("read fix SQL of %s: %w", t.Table, err)
		}
		fmt.Fprintf(&b, "-- %s -> %s\n", oneLine(t.Table), oneLine(t.Target))
		b.Write(body)
		if len(body) > 0 && body[len(body)-1] != '\n' {
			b.WriteByte('\n')
		}
		if b.Len() > limit {
			break
		}
	}
	return truncateSQL(b.Bytes(), limit, host, dir)
}

// truncateSQL cuts sql at the last line end within limit and appends a note.
func truncateSQL(sql []byte, limit int, host, dir string) ([]byte, bool, error) {
	if len(sql) <= limit {
		return sql, false, nil
	}
	note := fmt.Sprintf("-- TRUNCATED: the fix SQL exceeds %d bytes; the complete per-table .sql files are in %s on %s\n", limit, oneLine(dir), oneLine(host))
	cut := sql[:max(limit-len(note), 0)]
	if i := bytes.LastIndexByte(cut, '\n'); i >= 0 {
		cut = cut[:i+1]
	} else {
		cut = cut[:0]
	}
	return append(cut, note...), true, nil
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// Load reads a project's last finished verification: the per-table counts, and the fix SQL when
// withSQL. A project without one is APINotFound.
func Load(ctx context.Context, db *sql.DB, rmName, id string, withSQL bool) (api.VerificationResult, []byte, error) {
	out := api.VerificationResult{ProjectID: id}
	sqlCol := "''"
	if withSQL {
		sqlCol = "fix_sql"
	}
	var raw string
	var fix []byte
	err := db.QueryRowContext(ctx, "SELECT task_id, report, LENGTH(fix_sql), fix_sql_truncated, finished_at, "+sqlCol+" FROM "+rmName+".verification_results WHERE project_id = ?", id).
		Scan(&out.TaskID, &raw, &out.FixSQLBytes, &out.FixSQLTruncated, &out.FinishedAt, &fix)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil, omserr.New(omserr.APINotFound, fmt.Sprintf("project %q has no finished verification", id),
			"wait for the FULL_VERIFIER step to finish (DescribeProjectProgress), or create the project with verification on")
	}
	if err != nil {
		return out, nil, fmt.Errorf("read verification result of %s: %w", id, err)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		return out, nil, fmt.Errorf("decode verification result of %s: %w", id, err)
	}
	out.Equal, out.RowsCompared, out.OnlyInSource, out.OnlyInTarget, out.Different, out.SchemaDifferent =
		rep.Equal, rep.Compared, rep.OnlyInSource, rep.OnlyInTarget, rep.Different, rep.SchemaDifferent
	out.Tables = make([]api.VerificationTable, 0, len(rep.Tables))
	for _, t := range rep.Tables {
		out.Tables = append(out.Tables, api.VerificationTable{Table: t.Table, Target: t.Target, Method: t.Method,
			RowsCompared: t.Compared, OnlyInSource: t.OnlyInSource, OnlyInTarget: t.OnlyInTarget, Different: t.Different,
			SchemaDifferences: t.SchemaDifferences, Note: t.Note})
	}
	return out, fix, nil
}
