package verify

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/safepath"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Output files in Config.OutputDir.
const (
	ReportFile      = "report.json"
	ReportTextFile  = "report.txt"
	DifferencesFile = "differences.json" // keys that differed: input of only_previous_differences
)

// Methods of TableResult.
const (
	MethodRange         = "range"
	MethodIn            = "in"
	MethodMultiset      = "multiset"
	MethodSkipped       = "skipped"
	MethodNotReverified = "not_reverified"
	// MethodTableChecksum: CHECKSUM TABLE and the row count were equal on both sides, no chunk
	// was compared.
	MethodTableChecksum = "table_checksum"
)

// Report is the result of a run (report.json).
type Report struct {
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	Seconds      float64   `json:"seconds"`
	Mode         string    `json:"mode"`
	Compared     int64     `json:"rows_compared"`
	OnlyInSource int64     `json:"only_in_source"`
	OnlyInTarget int64     `json:"only_in_target"`
	Different    int64     `json:"different"`
	// SchemaDifferent is the number of tables whose definitions differ (TableResult.SchemaDifferences).
	SchemaDifferent int  `json:"tables_schema_different"`
	Equal           bool `json:"equal"`
	// ChunksResumed is the number of chunks a resumed run took as done from the state file.
	ChunksResumed int64         `json:"chunks_resumed,omitempty"`
	Tables        []TableResult `json:"tables"`
}

// TableResult is the outcome for one table.
type TableResult struct {
	Table        string   `json:"table"`  // source db.table
	Target       string   `json:"target"` // target db.table
	Method       string   `json:"method"`
	Key          []string `json:"key,omitempty"`
	Compared     int64    `json:"rows_compared"`
	OnlyInSource int64    `json:"only_in_source"`
	OnlyInTarget int64    `json:"only_in_target"`
	Different    int64    `json:"different"`
	// Converged is the number of rows that differed at first and were equal in a re-check
	// (in flight through Incr-Sync while compared).
	Converged int64  `json:"converged,omitempty"`
	DiffFile  string `json:"diff_file,omitempty"`
	SQLFile   string `json:"sql_file,omitempty"`
	// TableChecksum is the outcome of the table-level first pass: "equal" (verified by it),
	// "different" or "unavailable" (compared by chunks); empty when not taken.
	TableChecksum string `json:"table_checksum,omitempty"`
	// SchemaDifferences lists how the target table's definition differs from the source's
	// (schema.DiffDefinitions: "column c: charset latin2 vs utf8mb4", source first). Any entry
	// makes the table, and the run, not equal.
	SchemaDifferences []string `json:"schema_differences,omitempty"`
	Note              string   `json:"note,omitempty"`
}

// previous is differences.json.
type previous struct {
	Tables map[string]prevTable `json:"tables"`
}

type prevTable struct {
	Keys       [][][]byte `json:"keys,omitempty"`
	WholeTable bool       `json:"whole_table,omitempty"`
}

// loadPrevious makes the previous run's differences the candidates and marks every other table
// as not re-verified.
func (v *Verifier) loadPrevious() error {
	b, err := os.ReadFile(filepath.Join(v.cfg.OutputDir, DifferencesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return omserr.New(omserr.VerifyNoPrevious, "only_previous_differences is set but "+filepath.Join(v.cfg.OutputDir, DifferencesFile)+" does not exist",
			"run a full verification first, or unset only_previous_differences")
	}
	if err != nil {
		return fmt.Errorf("read previous differences: %w", err)
	}
	var prev previous
	if err := json.Unmarshal(b, &prev); err != nil {
		return fmt.Errorf("decode previous differences: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, tr := range v.tables {
		pt, ok := prev.Tables[name]
		ts := v.state.Tables[name]
		if !ok {
			tr.result.Method = MethodNotReverified
			tr.result.Note = "no differences in the previous run: not re-verified"
			continue
		}
		for _, k := range pt.Keys {
			tr.candidates[candidateID(tr.p, k)] = k
			ts.Candidates = append(ts.Candidates, k)
		}
		if pt.WholeTable {
			tr.candidates[""] = nil
			ts.WholeTable = true
		}
	}
	return nil
}

// writeReport writes per-table .diff and .sql files, report.json, report.txt and
// differences.json.
func (v *Verifier) writeReport(start time.Time) (*Report, error) {
	dir := v.cfg.OutputDir
	old, _ := filepath.Glob(filepath.Join(dir, "*.diff"))
	olds, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	for _, f := range append(old, olds...) {
		_ = os.Remove(f)
	}
	rep := &Report{StartedAt: start, FinishedAt: time.Now(), Mode: v.cfg.Mode, ChunksResumed: v.chunksResumed.Load()}
	rep.Seconds = rep.FinishedAt.Sub(start).Seconds()
	prev := previous{Tables: map[string]prevTable{}}
	for _, p := range v.pairs {
		tr := v.tables[p.Name]
		res := tr.result
		res.Table, res.Target = p.Name, p.dst.DB+"."+p.dst.Name
		res.Key = p.keyNames()
		res.Compared = tr.rowsDone.Load()
		res.TableChecksum = tr.tc
		switch {
		case res.Method != "":
		case tr.tc == tcEqual:
			res.Method = MethodTableChecksum
		case !p.hasKey():
			res.Method = MethodMultiset
			if res.Note == "" {
				res.Note = "no primary key or NOT NULL unique key: compared as multisets of full rows (COUNT and SUM(CRC32) per table, rows listed with their number of copies)"
			}
		case v.cfg.Mode == ModeIn:
			res.Method = MethodIn
		default:
			res.Method = MethodRange
		}
		if tr.tcNote != "" {
			res.Note = joinNote(res.Note, tr.tcNote)
		}
		if p.hasKey() {
			res.Converged = max(tr.initial-int64(len(tr.final)), 0)
		}
		pt := prevTable{}
		for _, d := range tr.final {
			switch d.Kind {
			case DiffOnlySource:
				res.OnlyInSource += int64(d.Count)
			case DiffOnlyTarget:
				res.OnlyInTarget += int64(d.Count)
			default:
				res.Different += int64(max(d.Count, 1))
			}
			if p.hasKey() {
				pt.Keys = append(pt.Keys, d.Key)
			} else {
				pt.WholeTable = true
			}
		}
		if len(tr.final) > 0 {
			prev.Tables[p.Name] = pt
			// Named after the source table, encoded: a table called x/../../y stays in dir.
			diffPath, err := safepath.File(dir, ".diff", p.src.DB, p.src.Name)
			if err != nil {
				return nil, fmt.Errorf("name the diff file of %s: %w", p.Name, err)
			}
			sqlPath, err := safepath.File(dir, ".sql", p.src.DB, p.src.Name)
			if err != nil {
				return nil, fmt.Errorf("name the SQL file of %s: %w", p.Name, err)
			}
			res.DiffFile, res.SQLFile = filepath.Base(diffPath), filepath.Base(sqlPath)
			if err := writeDiff(diffPath, p, tr.final); err != nil {
				return nil, err
			}
			if err := writeSQL(sqlPath, p, tr.final); err != nil {
				return nil, err
			}
		}
		res.Note = joinNote(res.Note, schemaNote(res, len(tr.final) > 0))
		if len(res.SchemaDifferences) > 0 {
			rep.SchemaDifferent++
		}
		rep.Compared += res.Compared
		rep.OnlyInSource += res.OnlyInSource
		rep.OnlyInTarget += res.OnlyInTarget
		rep.Different += res.Different
		rep.Tables = append(rep.Tables, res)
	}
	rep.Tables = append(rep.Tables, v.skipped...)
	sort.Slice(rep.Tables, func(i, j int) bool { return rep.Tables[i].Table < rep.Tables[j].Table })
	rep.Equal = rep.OnlyInSource == 0 && rep.OnlyInTarget == 0 && rep.Different == 0 && rep.SchemaDifferent == 0
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := writeFileAtomic(filepath.Join(dir, ReportFile), b); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ReportTextFile), []byte(rep.Text())); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	pb, _ := json.Marshal(prev)
	if err := writeFileAtomic(filepath.Join(dir, DifferencesFile), pb); err != nil {
		return nil, fmt.Errorf("write differences: %w", err)
	}
	return rep, nil
}

// schemaNote says what the definitions' differences mean for the table: why its table checksum
// differed when no row does, or that the schema differs although the rows do not.
func schemaNote(res TableResult, rowsDiffer bool) string {
	sd := strings.Join(res.SchemaDifferences, "; ")
	switch {
	case res.TableChecksum == tcDifferent && !rowsDiffer && sd != "":
		return "checksum differs: " + sd
	case res.TableChecksum == tcDifferent && !rowsDiffer:
		return "checksum differs although every row compares equal by value (the same values stored as other bytes: JSON text, float written back, row or temporal format)"
	case sd != "":
		return "schema differs: " + sd
	}
	return ""
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// Text is the human summary (report.txt).
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "full verification (%s mode), %.1f s: ", r.Mode, r.Seconds)
	if r.Equal {
		b.WriteString("no differences\n")
	} else {
		fmt.Fprintf(&b, "%d only in source, %d only in target, %d different", r.OnlyInSource, r.OnlyInTarget, r.Different)
		if r.SchemaDifferent > 0 {
			fmt.Fprintf(&b, "; the definitions of %d tables differ", r.SchemaDifferent)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%-40s %-40s %-14s %12s %10s %10s %10s  %s\n", "source", "target", "method", "compared", "only_src", "only_tgt", "different", "files / note")
	for _, t := range r.Tables {
		files := strings.TrimSpace(t.DiffFile + " " + t.SQLFile)
		if t.Note != "" {
			files = strings.TrimSpace(files + " " + t.Note)
		}
		fmt.Fprintf(&b, "%-40s %-40s %-14s %12d %10d %10d %10d  %s\n", t.Table, t.Target, t.Method, t.Compared, t.OnlyInSource, t.OnlyInTarget, t.Different, files)
	}
	return b.String()
}

func writeDiff(path string, p *pair, diffs []rowDiff) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "# oms full-verify: source %s vs target %s.%s\n", p.Name, p.dst.DB, p.dst.Name)
	fmt.Fprintf(w, "# columns: (%s)\n", strings.Join(p.cols, ", "))
	if p.hasKey() {
		fmt.Fprintf(w, "# key: (%s)\n", strings.Join(p.keyNames(), ", "))
	} else {
		fmt.Fprintf(w, "# no key: rows compared as a multiset; COPIES is the number of copies missing or extra\n")
	}
	for _, d := range diffs {
		head := d.Kind
		if p.hasKey() {
			head += " " + p.keyText(d.Key)
		} else if d.Src == nil && d.Dst == nil {
			head += " whole table (too many rows to list)"
		} else {
			head += fmt.Sprintf(" COPIES=%d", d.Count)
		}
		if d.Kind == DiffDifferent && len(d.Cols) > 0 {
			names := make([]string, len(d.Cols))
			for i, c := range d.Cols {
				names[i] = p.cols[c]
			}
			head += " columns=" + strings.Join(names, ",")
		}
		fmt.Fprintln(w, head)
		if d.Src != nil {
			fmt.Fprintln(w, "  source: "+p.rowText(d.Src))
		}
		if d.Dst != nil {
			fmt.Fprintln(w, "  target: "+p.rowText(d.Dst))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func (p *pair) keyText(k [][]byte) string {
	parts := make([]string, len(k))
	for i, v := range k {
		kp := p.keyPos[i]
		parts[i] = p.cols[kp] + "=" + literal(p.kinds[kp], v)
	}
	return strings.Join(parts, " ")
}

func (p *pair) rowText(r [][]byte) string {
	parts := make([]string, len(p.cols))
	for i := range p.cols {
		parts[i] = literal(p.kinds[i], r[i])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// writeSQL writes the statements that make the target equal to the source.
func writeSQL(path string, p *pair, diffs []rowDiff) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	tbl := sqlgen.Table(p.dst.DB, p.dst.Name)
	fmt.Fprintf(w, "-- oms full-verify correction: makes target %s.%s equal to source %s\n", p.dst.DB, p.dst.Name, p.Name)
	fmt.Fprintf(w, "-- values were read as utf8mb4 text with time_zone '+00:00'\n")
	fmt.Fprintf(w, "SET NAMES utf8mb4;\nSET time_zone = '+00:00';\n")
	cols := sqlgen.ColumnList(p.cols)
	for _, d := range diffs {
		switch {
		case d.Src == nil && d.Dst == nil:
			fmt.Fprintf(w, "-- whole table differs; rows not listed (see the report)\n")
		case d.Kind == DiffOnlySource:
			for range max(d.Count, 1) {
				fmt.Fprintf(w, "INSERT INTO %s (%s) VALUES %s;\n", tbl, cols, p.rowText(d.Src))
			}
		case d.Kind == DiffOnlyTarget:
			if p.hasKey() {
				fmt.Fprintf(w, "DELETE FROM %s WHERE %s LIMIT 1;\n", tbl, p.keyWhere(d.Key))
			} else {
				fmt.Fprintf(w, "DELETE FROM %s WHERE %s LIMIT %d;\n", tbl, p.rowWhere(d.Dst), d.Count)
			}
		default:
			sets := make([]string, len(d.Cols))
			for i, c := range d.Cols {
				sets[i] = sqlgen.QuoteIdent(p.cols[c]) + " = " + literal(p.kinds[c], d.Src[c])
			}
			fmt.Fprintf(w, "UPDATE %s SET %s WHERE %s LIMIT 1;\n", tbl, strings.Join(sets, ", "), p.keyWhere(p.key(d.Dst)))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func (p *pair) keyWhere(k [][]byte) string {
	parts := make([]string, len(k))
	for i, v := range k {
		kp := p.keyPos[i]
		parts[i] = sqlgen.QuoteIdent(p.cols[kp]) + " = " + literal(p.kinds[kp], v)
	}
	return strings.Join(parts, " AND ")
}

func (p *pair) rowWhere(r [][]byte) string {
	parts := make([]string, len(p.cols))
	for i := range p.cols {
		parts[i] = sqlgen.QuoteIdent(p.cols[i]) + " <=> " + literal(p.kinds[i], r[i])
	}
	return strings.Join(parts, " AND ")
}

// literal renders a value as a SQL literal: NULL, a number, 0xHEX for bytes, or a quoted string
// (” is the empty string, never NULL).
func literal(k kind, v []byte) string {
	if v == nil {
		return "NULL"
	}
	switch k {
	case kindInt, kindDecimal, kindFloat, kindDouble:
		if isNumber(v) {
			return string(v)
		}
	case kindBinary:
		if len(v) == 0 {
			return "''"
		}
		return "0x" + hex.EncodeToString(v)
	}
	if !utf8.Valid(v) {
		return "0x" + hex.EncodeToString(v)
	}
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range v {
		switch c {
		case 0:
			b.WriteString(`\0`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func isNumber(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for i, c := range v {
		switch {
		case c >= '0' && c <= '9', c == '.':
		case (c == '-' || c == '+') && (i == 0 || v[i-1] == 'e' || v[i-1] == 'E'):
		case c == 'e' || c == 'E':
		default:
			return false
		}
	}
	return true
}
