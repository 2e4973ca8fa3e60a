package binlog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/omsdev/oms/internal/changelog"
)

// TableMap is what a binlog says about a table just before its row events: the column types the
// row images are encoded with, and, when the server logs binlog_row_metadata=FULL, the column
// names, enum/set labels, charsets and primary key. It holds no go-mysql types.
type TableMap struct {
	ID       uint64
	DB, Name string
	// Types are SHOW CREATE TABLE style types derived from the binlog (e.g. "int unsigned",
	// "decimal(10,2)", "varchar(64)"); precise enough to check, not always as the DDL wrote it.
	Types    []string
	Unsigned []bool
	Nullable []bool
	// Names, EnumValues, SetValues, Charsets and PrimaryKey are empty unless the server logs
	// FULL row metadata. EnumValues/SetValues are per column (nil for other columns).
	Names      []string
	EnumValues [][]string
	SetValues  [][]string
	Charsets   []string
	PrimaryKey []int
	// HasSignedness is set when Unsigned comes from the binlog (MINIMAL or FULL metadata).
	HasSignedness bool
}

// ResolvedTable is a table's schema at a binlog position plus what decoding needs.
type ResolvedTable struct {
	Table *changelog.Table
	// EnumValues and SetValues are the labels per column (nil for other columns), to turn the
	// binlog's numbers into text.
	EnumValues [][]string
	SetValues  [][]string
}

// TableResolver gives the schema valid at the current position of the stream; the schema
// tracker (internal/schema) implements it. Calls come from the capture goroutine, in log order.
type TableResolver interface {
	// ResolveTable returns the schema for the table map of the row events that follow.
	ResolveTable(ctx context.Context, tm *TableMap) (*ResolvedTable, error)
	// ApplyDDL is called for every DDL statement, in log order, after its position.
	ApplyDDL(ctx context.Context, db, statement string) error
}

func convertTableMap(e *replication.TableMapEvent) *TableMap {
	n := int(e.ColumnCount)
	tm := &TableMap{ID: e.TableID, DB: string(e.Schema), Name: string(e.Table),
		Types: make([]string, n), Unsigned: make([]bool, n), Nullable: make([]bool, n)}
	um := e.UnsignedMap()
	tm.HasSignedness = um != nil
	for i := range n {
		tm.Unsigned[i] = um[i]
		_, tm.Nullable[i] = e.Nullable(i)
	}
	if len(e.ColumnName) == n {
		tm.Names = e.ColumnNameString()
	}
	enums, sets := e.EnumStrValueMap(), e.SetStrValueMap()
	if len(enums) > 0 || len(sets) > 0 {
		tm.EnumValues = make([][]string, n)
		tm.SetValues = make([][]string, n)
		for i, v := range enums {
			tm.EnumValues[i] = v
		}
		for i, v := range sets {
			tm.SetValues[i] = v
		}
	}
	coll := e.CollationMap()
	escoll := e.EnumSetCollationMap()
	if len(coll) > 0 || len(escoll) > 0 {
		tm.Charsets = make([]string, n)
		for i, c := range coll {
			tm.Charsets[i] = charsetOfCollation(c)
		}
		for i, c := range escoll {
			tm.Charsets[i] = charsetOfCollation(c)
		}
	}
	for _, p := range e.PrimaryKey {
		tm.PrimaryKey = append(tm.PrimaryKey, int(p))
	}
	for i := range n {
		tm.Types[i] = typeString(e.ColumnType[i], e.ColumnMeta[i], tm.Unsigned[i], tm, i)
	}
	return tm
}

// charsetOfCollation maps the common collation ids to their charset; unknown ids give "".
func charsetOfCollation(id uint64) string {
	switch {
	case id == 63:
		return "binary"
	case id == 8 || id == 5 || id == 15 || id == 31 || id == 47 || id == 48 || id == 49 || id == 94:
		return "latin1"
	case id == 33 || id == 83 || id >= 192 && id <= 223:
		return "utf8mb3"
	case id == 45 || id == 46 || id >= 224 && id <= 247 || id >= 255 && id <= 323:
		return "utf8mb4"
	case id == 11 || id == 65:
		return "ascii"
	}
	return ""
}

func maxLen(cs string) int {
	switch cs {
	case "utf8mb4":
		return 4
	case "utf8mb3":
		return 3
	}
	return 1
}

func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.Join(q, ",")
}

// typeString derives a SHOW CREATE TABLE style type from the binlog type and metadata.
func typeString(tp byte, meta uint16, unsigned bool, tm *TableMap, i int) string {
	u := ""
	if unsigned {
		u = " unsigned"
	}
	cs := ""
	if tm.Charsets != nil {
		cs = tm.Charsets[i]
	}
	switch tp {
	case mysql.MYSQL_TYPE_TINY:
		return "tinyint" + u
	case mysql.MYSQL_TYPE_SHORT:
		return "smallint" + u
	case mysql.MYSQL_TYPE_INT24:
		return "mediumint" + u
	case mysql.MYSQL_TYPE_LONG:
		return "int" + u
	case mysql.MYSQL_TYPE_LONGLONG:
		return "bigint" + u
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return fmt.Sprintf("decimal(%d,%d)%s", meta>>8, meta&0xff, u)
	case mysql.MYSQL_TYPE_FLOAT:
		return "float" + u
	case mysql.MYSQL_TYPE_DOUBLE:
		return "double" + u
	case mysql.MYSQL_TYPE_BIT:
		return fmt.Sprintf("bit(%d)", (meta>>8)*8+meta&0xff)
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return withFsp("timestamp", meta, tp == mysql.MYSQL_TYPE_TIMESTAMP2)
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		return withFsp("datetime", meta, tp == mysql.MYSQL_TYPE_DATETIME2)
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		return withFsp("time", meta, tp == mysql.MYSQL_TYPE_TIME2)
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		return "date"
	case mysql.MYSQL_TYPE_YEAR:
		return "year"
	case mysql.MYSQL_TYPE_JSON:
		return "json"
	case mysql.MYSQL_TYPE_GEOMETRY:
		return "geometry"
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		if cs == "binary" {
			return "varbinary(" + strconv.Itoa(int(meta)) + ")"
		}
		return "varchar(" + strconv.Itoa(int(meta)/maxLen(cs)) + ")"
	case mysql.MYSQL_TYPE_BLOB:
		names := []string{"", "tiny", "", "medium", "long"}
		p := ""
		if int(meta) < len(names) {
			p = names[meta]
		}
		if cs == "binary" || cs == "" && tm.Charsets == nil {
			return p + "blob"
		}
		return p + "text"
	case mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
		real := tp
		if tp == mysql.MYSQL_TYPE_STRING && meta >= 256 {
			real = byte(meta >> 8)
		}
		switch real {
		case mysql.MYSQL_TYPE_ENUM:
			if tm.EnumValues != nil && tm.EnumValues[i] != nil {
				return "enum(" + quoteList(tm.EnumValues[i]) + ")"
			}
			return "enum"
		case mysql.MYSQL_TYPE_SET:
			if tm.SetValues != nil && tm.SetValues[i] != nil {
				return "set(" + quoteList(tm.SetValues[i]) + ")"
			}
			return "set"
		}
		// CHAR: length in bytes is packed into the meta word.
		length := int(((meta>>4)&0x300)^0x300) + int(meta&0xff)
		if cs == "binary" {
			return "binary(" + strconv.Itoa(length) + ")"
		}
		return "char(" + strconv.Itoa(length/maxLen(cs)) + ")"
	}
	return fmt.Sprintf("type%d", tp)
}

func withFsp(name string, meta uint16, v2 bool) string {
	if v2 && meta > 0 {
		return name + "(" + strconv.Itoa(int(meta)) + ")"
	}
	return name
}
