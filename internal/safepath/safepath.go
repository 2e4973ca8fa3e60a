// Package safepath turns names that come from data or from people (databases, tables, projects,
// tasks, regions) into file names that cannot leave their folder, and joins them under a folder
// only after confirming the result is inside it. Every file or directory named after such a name
// goes through Name or Join: a table called `x/../../tmp/y` must not write outside its output.
package safepath

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// maxEncoded bounds the escaped part of a name (file systems allow 255 bytes per name; callers
// add an extension and the hash suffix).
const maxEncoded = 200

// Name encodes s as one path element, stable across runs and hosts:
//
//   - ASCII letters, digits, '_' and '-' are kept; every other byte (including '/', '\', '.',
//     '%', '~', spaces and each byte of non-ASCII UTF-8) becomes %XX, so the result is never
//     empty, ".", ".." or a path with a separator, and dots are free to join parts ("db.table").
//   - A name with an upper-case letter, or empty, or whose escaped form is longer than 200 bytes
//     (then cut) gets a suffix "~" and 12 hex digits of the SHA-256 of s: `Orders` and `orders`
//     stay two files on a case-insensitive file system, and long names stay distinct.
//
// Distinct names give distinct results (with a 48-bit hash where a suffix is used).
func Name(s string) string {
	var b strings.Builder
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			upper = true
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	out := b.String()
	long := len(out) > maxEncoded
	if long {
		out = out[:maxEncoded]
		if i := strings.LastIndexByte(out[len(out)-2:], '%'); i >= 0 { // do not cut an escape
			out = out[:len(out)-2+i]
		}
	}
	if upper || long || s == "" {
		sum := sha256.Sum256([]byte(s))
		out += "~" + hex.EncodeToString(sum[:6])
	}
	return out
}

// Join returns dir joined with each name encoded by Name, after confirming the result lies
// inside dir.
func Join(dir string, names ...string) (string, error) {
	parts := make([]string, 0, len(names)+1)
	parts = append(parts, dir)
	for _, n := range names {
		parts = append(parts, Name(n))
	}
	p := filepath.Join(parts...)
	return p, Inside(dir, p)
}

// Inside returns an error unless path is dir or lies under it (lexically, after cleaning both).
func Inside(dir, path string) error {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("path %q is outside folder %q", path, dir)
	}
	return nil
}

// File is the path of a file in dir named after one or more names: each encoded by Name, joined
// with '.', then ext (File(dir, ".diff", "shop", "orders") is dir/shop.orders.diff), confirmed
// inside dir. Name never keeps a '.', so the parts cannot run into each other.
func File(dir, ext string, names ...string) (string, error) {
	enc := make([]string, len(names))
	for i, n := range names {
		enc[i] = Name(n)
	}
	p := filepath.Join(dir, strings.Join(enc, ".")+ext)
	return p, Inside(dir, p)
}
