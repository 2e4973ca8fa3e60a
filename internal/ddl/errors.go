package ddl

import "errors"

var (
	errMariaDBComment = errors.New("MariaDB executable comment /*M! */ (the parser would drop it)")
	errNotOne         = errors.New("not exactly one statement")
)
