package verify

import (
	"context"
	"database/sql"

	"github.com/omsdev/oms/internal/keyset"
)

// chunk is a key range [Lo, Hi); a nil bound is open. The first chunk of a table has no Lo and
// the last no Hi, so rows only in the target outside the source's key span are found too.
type chunk = keyset.Range

// planChunks cuts a table into chunks of about size rows, along the source's key.
func planChunks(ctx context.Context, db *sql.DB, p *pair, size int) ([]chunk, error) {
	if !p.hasKey() {
		return []chunk{{}}, nil
	}
	return keyset.Plan(ctx, db, p.keysetTable(srcSide), int64(size))
}

// walkChunks cuts the part of one side's table within the given chunk by walking its key index.
func walkChunks(ctx context.Context, db *sql.DB, s side, p *pair, size int, within chunk) ([]chunk, error) {
	return keyset.Walk(ctx, db, p.keysetTable(s), int64(size), within)
}

// keysetTable is one side's table for the planner: with its index hint, so both sides walk the
// same key order.
func (p *pair) keysetTable(s side) keyset.Table {
	return keyset.Table{From: p.table(s) + p.hint(s), Key: p.chunkKey, Rows: p.src.Rows}
}
