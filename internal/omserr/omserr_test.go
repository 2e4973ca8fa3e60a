package omserr

import (
	"errors"
	"fmt"
	"testing"
)

func TestFrom(t *testing.T) {
	if From(nil, StoreCaptureFailed) != nil {
		t.Error("From(nil) is not nil")
	}
	coded := New(StoreBinlogOff, "log_bin is OFF", "enable it")
	if got := From(fmt.Errorf("precheck: %w", coded), StoreCaptureFailed); got != coded {
		t.Errorf("From lost the coded error: %+v", got)
	}
	plain := errors.New("disk full")
	got := From(fmt.Errorf("write segment: %w", plain), StoreCaptureFailed)
	if got.Code != StoreCaptureFailed || got.Message != "write segment: disk full" || !errors.Is(got, plain) {
		t.Errorf("From(plain) = %+v", got)
	}
}
