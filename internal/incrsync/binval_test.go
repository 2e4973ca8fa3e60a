package incrsync

import (
	"reflect"
	"testing"
)

func TestBinaryText(t *testing.T) {
	cases := []struct {
		typ  string
		in   []byte
		want string
		ok   bool
	}{
		{"uuid", []byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x55, 0x44, 0, 0}, "123e4567-e89b-12d3-a456-426655440000", true},
		{"UUID", make([]byte, 16), "00000000-0000-0000-0000-000000000000", true},
		{"inet4", []byte{10, 0, 0, 1}, "10.0.0.1", true},
		{"inet4", []byte{255, 255, 255, 255}, "255.255.255.255", true},
		{"inet6", []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "2001:db8::1", true},
		{"inet6", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, "::ffff:1.2.3.4", true},
		{"inet6", make([]byte, 16), "::", true},
		// the binlog leaves out trailing zero bytes of a fixed-length binary value
		{"uuid", []byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x55, 0x44}, "123e4567-e89b-12d3-a456-426655440000", true},
		{"inet4", []byte{10}, "10.0.0.0", true},
		{"inet6", nil, "::", true},
		{"uuid", make([]byte, 17), "", false},
		{"inet4", make([]byte, 16), "", false},
	}
	for _, c := range cases {
		got, ok := binaryText(c.typ)(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("%s %x: %q %v, want %q %v", c.typ, c.in, got, ok, c.want, c.ok)
		}
	}
	if binaryText("binary(16)") != nil || binaryText("varchar(36)") != nil {
		t.Error("a plain binary or text column is converted")
	}
	img := []any{int64(1), []byte{10, 0, 0, 1}, nil}
	conv := []func([]byte) (string, bool){nil, inet4Text, inet4Text}
	out := textImage(img, conv)
	if !reflect.DeepEqual(out, []any{int64(1), "10.0.0.1", nil}) {
		t.Errorf("textImage: %v", out)
	}
	if _, ok := img[1].([]byte); !ok {
		t.Error("textImage changed its input")
	}
	if same := textImage(img[:1], conv); &same[0] != &img[0] {
		t.Error("textImage copied an image it did not change")
	}
}
