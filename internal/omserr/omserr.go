// Package omserr is the operator-facing error: a stable code, a message that names the problem,
// and advice that says what to do. Role packages return *Error for anything a person must act
// on; the HTTP edge and the CLI print all three parts. Match on Code (errors.As), never on text.
package omserr

import (
	"errors"
	"fmt"
)

// Error is an operator-facing error.
// Its JSON, {"code","message","advice"}, is what HTTP edges answer and what a component's Status
// carries; the cause stays in the process (logs), it is not sent.
type Error struct {
	Code    string `json:"code"`             // stable, a constant of codes.go; listed in docs/errors.md
	Message string `json:"message"`          // what is wrong, naming the object (key, table, position...)
	Advice  string `json:"advice,omitempty"` // what to do about it
	Err     error  `json:"-"`                // underlying cause, if any
}

// New returns an *Error without a cause.
func New(code, message, advice string) *Error {
	return &Error{Code: code, Message: message, Advice: advice}
}

// Wrap returns an *Error with a cause.
func Wrap(err error, code, message, advice string) *Error {
	return &Error{Code: code, Message: message, Advice: advice, Err: err}
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Advice != "" {
		s += " (" + e.Advice + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of the first *Error in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// From is the *Error in err's chain, or, for an error without one, a new *Error of code
// fallback whose message is err's text; nil for nil.
func From(err error, fallback string) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: fallback, Message: err.Error(), Err: err}
}

// Errorf is fmt.Errorf for messages; kept here so callers need one import for both.
func Errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
