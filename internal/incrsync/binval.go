package incrsync

import (
	"encoding/hex"
	"net/netip"
	"strings"
)

// binaryText is how a column type that the binlog logs in its binary form (MariaDB's UUID,
// INET4 and INET6: 16, 4 and 16 bytes) is written to the target: as its text, which is the
// only form the target's typed column takes from a client (raw bytes are refused with 1292).
// Nil for every other type.
func binaryText(colType string) func([]byte) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(colType)) {
	case "uuid":
		return uuidText
	case "inet4":
		return inet4Text
	case "inet6":
		return inet6Text
	}
	return nil
}

// fixed pads b to n bytes: the binlog logs a fixed-length binary value without its trailing zero
// bytes. ok is false when b is longer.
func fixed(b []byte, n int) ([]byte, bool) {
	if len(b) > n {
		return nil, false
	}
	if len(b) < n {
		b = append(append(make([]byte, 0, n), b...), make([]byte, n-len(b))...)
	}
	return b, true
}

// uuidText formats 16 bytes (in text order, as the binlog carries them) as 8-4-4-4-12 hex.
func uuidText(b []byte) (string, bool) {
	b, ok := fixed(b, 16)
	if !ok {
		return "", false
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], true
}

func inet4Text(b []byte) (string, bool) {
	b, ok := fixed(b, 4)
	if !ok {
		return "", false
	}
	return netip.AddrFrom4([4]byte(b)).String(), true
}

// inet6Text keeps IPv4-mapped addresses in their ::ffff:a.b.c.d form (netip does), which is
// what INET6 reads back to the same 16 bytes.
func inet6Text(b []byte) (string, bool) {
	b, ok := fixed(b, 16)
	if !ok {
		return "", false
	}
	return netip.AddrFrom16([16]byte(b)).String(), true
}

// textImage returns img with the binary forms of the columns conv names turned into text; img
// itself when nothing changes (it may be shared with the source transaction, so it is never
// written to).
func textImage(img []any, conv []func([]byte) (string, bool)) []any {
	if img == nil || conv == nil {
		return img
	}
	var out []any
	for i, f := range conv {
		if f == nil || i >= len(img) {
			continue
		}
		var b []byte
		switch v := img[i].(type) {
		case []byte:
			b = v
		case string:
			b = []byte(v)
		default:
			continue
		}
		s, ok := f(b)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]any(nil), img...)
		}
		out[i] = s
	}
	if out == nil {
		return img
	}
	return out
}
