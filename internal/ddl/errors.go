package ddl

import "errors"

var (
	errMariaDBComment = errors.New("MariaDB executable comment /*M! */ (the parser would drop it)")
	errNotUTF8        = errors.New("the statement is not valid UTF-8 (a client charset other than utf8)")
	errLossy          = errors.New("an option the parser does not keep, e.g. STATS_PERSISTENT, PACK_KEYS, FORCE, NATIONAL CHAR")
	errNotOne         = errors.New("not exactly one statement")
	errBody           = errors.New("a routine, trigger or event body is SQL the parse tree does not map")
)
