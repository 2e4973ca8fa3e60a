package verify

import (
	"fmt"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/schema"
)

// tableOf returns db.table of cat or an operator error when it does not exist.
func tableOf(cat *schema.Catalog, db, table string) (*schema.TableInfo, error) {
	t := cat.Table(db, table)
	if t == nil {
		return nil, omserr.New(omserr.VerifyTableMissing, fmt.Sprintf("table %s.%s does not exist", db, table),
			"create the table (struct transfer) or remove it from the selection")
	}
	return t, nil
}
