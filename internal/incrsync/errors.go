package incrsync

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
)

// fatalRow builds the operator error for a failed row: error code, table, key and position.
func fatalRow(err error, r *mrow, gtid string) error {
	if omserr.CodeOf(err) != "" {
		return err
	}
	num := mysqlconn.ErrNumber(err)
	return omserr.Wrap(err, omserr.IncrApplyFailed,
		fmt.Sprintf("applying %s on %s key %s (source GTID %s) failed with target error %d", r.op, r.t.quoted, keyText(r), gtid, num),
		"fix the cause on the target (schema, privileges, data), then resume the task; the transaction is retried from its start")
}

func conflict(r *mrow, gtid, what string) error {
	return omserr.New(omserr.IncrRowConflict,
		fmt.Sprintf("strict mode: %s on %s key %s at source GTID %s: %s", r.op, r.t.quoted, keyText(r), gtid, what),
		"the target differs from the source: compare the row, repair it (or restart the full copy), then resume; set strict_after to a later position only if the full copy really ended later")
}

// keyText prints a row's identity key (or its whole image) for messages.
func keyText(r *mrow) string {
	img := r.after
	if r.op != changelog.OpInsert && r.before != nil {
		img = r.before
	}
	if img == nil {
		return "()"
	}
	idx := r.t.ident
	if idx == nil {
		idx = make([]int, len(img))
		for i := range idx {
			idx[i] = i
		}
	}
	var parts []string
	for _, i := range idx {
		v := img[i]
		s := fmt.Sprint(v)
		if b, ok := v.([]byte); ok {
			s = bytesText(b, r.t.src.Columns[r.t.cols[i]].Charset)
		}
		if len(s) > 64 {
			s = s[:64] + "..."
		}
		parts = append(parts, r.t.names[i]+"="+s)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// bytesText shows a text or binary value in a message: as text when it is readable UTF-8 in an
// ASCII-compatible charset, else as hex (utf16, utf32, ucs2, binary, invalid UTF-8).
func bytesText(b []byte, charset string) string {
	switch cs := strings.ToLower(charset); {
	case cs == "" || cs == "binary" || strings.HasPrefix(cs, "utf16") || strings.HasPrefix(cs, "utf32") || cs == "ucs2":
	case utf8.Valid(b):
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}
