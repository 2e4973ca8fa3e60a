package console

import (
	"strings"

	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/rowfilter"
	"github.com/omsdev/oms/internal/secret"
)

// Bounds of request fields that are not stored in a column of their own.
const (
	// maxIdentifier is MySQL's limit of a database or table name (characters).
	maxIdentifier = 64
	// maxValue bounds, in bytes, a value kept inside a JSON document (a project's spec, an alert
	// channel's config) or only compared (patterns, times, metric names).
	maxValue = 4096
	// maxBcrypt is bcrypt's limit of a password (bytes).
	maxBcrypt = 72
)

// fieldLimit resolves the `maxlen` tags of the api request types (httpx.CheckLengths):
// "table.column" is the MetaDB column's limit (metadb.MaxLength, from the schema itself);
// "sealed:table.column" a secret sealed into that column; the other names are the bounds above
// and the row filter's own.
var fieldLimit httpx.LengthOf = func(ref string) (int, bool, bool) {
	switch ref {
	case "identifier":
		return maxIdentifier, false, true
	case "value":
		return maxValue, true, true
	case "bcrypt":
		return maxBcrypt, true, true
	case "rowfilter":
		return rowfilter.MaxLen, true, true
	}
	if col, ok := strings.CutPrefix(ref, "sealed:"); ok {
		n, bytes, ok := metadb.MaxLength(col)
		return n - secret.SealOverhead, true, ok && bytes
	}
	return metadb.MaxLength(ref)
}
