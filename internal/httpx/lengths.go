package httpx

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/omsdev/oms/internal/omserr"
)

// LengthOf resolves the ref of a `maxlen:"ref"` field tag (for the console: a MetaDB column
// "table.column", or a named bound) to at most n characters, or n bytes when bytes.
type LengthOf func(ref string) (n int, bytes, ok bool)

// CheckLengths checks every string field of v (a decoded request) tagged `maxlen:"ref"` against
// the limit of ref: the field itself, each element of a []string, each key and value of a
// map[string]string, and the fields of nested structs. A value over its limit is
// API_INVALID_ARGUMENT naming the JSON field and the limit, before anything is written (the
// MetaDB would otherwise refuse it with "Data too long", a 500). A ref that of cannot resolve is
// a programming error (returned unwrapped: a 500).
func CheckLengths(v any, of LengthOf) error {
	return checkLengths(reflect.ValueOf(v), "", of)
}

func checkLengths(v reflect.Value, path string, of LengthOf) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			field := join(path, name)
			if f.Anonymous && f.Tag.Get("json") == "" {
				field = path // an embedded struct's fields are the outer object's in JSON too
			}
			if ref, ok := f.Tag.Lookup("maxlen"); ok {
				if err := checkField(v.Field(i), field, ref, of); err != nil {
					return err
				}
				continue
			}
			if err := checkLengths(v.Field(i), field, of); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkLengths(v.Index(i), fmt.Sprintf("%s[%d]", path, i), of); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := checkLengths(it.Value(), join(path, fmt.Sprint(it.Key())), of); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkField checks the strings of one tagged field (string, *string, []string,
// map[string]string).
func checkField(v reflect.Value, field, ref string, of LengthOf) error {
	n, bytes, ok := of(ref)
	if !ok {
		return fmt.Errorf("field %s: no length limit %q", field, ref)
	}
	check := func(s, name string) error {
		l, unit := utf8.RuneCountInString(s), "characters"
		if bytes {
			l, unit = len(s), "bytes"
		}
		if l <= n {
			return nil
		}
		return omserr.New(omserr.APIInvalidArgument, fmt.Sprintf("%s is %d %s long; at most %d are allowed", name, l, unit, n),
			fmt.Sprintf("shorten %s to at most %d %s", name, n, unit))
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if k := v.Kind(); k != reflect.String && (k != reflect.Slice && k != reflect.Map || v.Type().Elem().Kind() != reflect.String) {
		return fmt.Errorf("field %s: maxlen on a %s", field, v.Type())
	}
	switch v.Kind() {
	case reflect.String:
		return check(v.String(), field)
	case reflect.Slice:
		for i := range v.Len() {
			if err := check(v.Index(i).String(), fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			k := it.Key().String()
			if err := check(k, field+" key"); err != nil {
				return err
			}
			if err := check(it.Value().String(), join(field, k)); err != nil {
				return err
			}
		}
	}
	return nil
}
