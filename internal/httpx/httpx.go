// Package httpx is the one way oms's HTTP servers (console, CM, supervisor, component status,
// the Store's control endpoints) read requests and write answers: a handler returns (value,
// error); the value is encoded as JSON, the error as {"code","message","advice"} with the HTTP
// status the code list gives (internal/omserr); request bodies are limited to MaxBody and decoded
// strictly (unknown fields, wrong types and trailing data refused).
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"

	"github.com/omsdev/oms/internal/omserr"
)

// MaxBody bounds a request body: every request oms serves is a small JSON object.
const MaxBody = 1 << 20

// Handler answers a request with a value (200, JSON) or an error.
type Handler func(r *http.Request) (any, error)

// Server holds what differs between servers: how an error without an *omserr.Error in its chain
// (a bug or an unexpected failure) is answered.
type Server struct {
	// Internal turns such an error into the operator-facing one to send (it may log err first).
	// Nil: API_INTERNAL_ERROR, "internal error".
	Internal func(r *http.Request, err error) *omserr.Error
}

// Handle serves h.
func (s Server) Handle(h Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, v)
	}
}

// WriteError answers err as {"code","message","advice"} with the code's HTTP status.
func (s Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	oe := s.Operator(r, err)
	WriteJSON(w, omserr.HTTPStatus(oe.Code), oe)
}

// Operator is the *omserr.Error in err's chain, or what Internal makes of err.
func (s Server) Operator(r *http.Request, err error) *omserr.Error {
	var oe *omserr.Error
	if errors.As(err, &oe) {
		return oe
	}
	if s.Internal != nil {
		return s.Internal(r, err)
	}
	return omserr.Wrap(err, omserr.APIInternalError, "internal error", "see the server's log")
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ReadBody reads r's body: API_BODY_TOO_LARGE (413) beyond MaxBody.
func ReadBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, omserr.Wrap(err, omserr.APIBadRequest, "cannot read request body", "retry")
	}
	if len(body) > MaxBody {
		return nil, omserr.New(omserr.APIBodyTooLarge, "request body is larger than 1 MiB", "send a smaller request")
	}
	return body, nil
}

// DecodeStrict decodes body, one JSON object, into v; an empty body is {}. Bad JSON, unknown
// fields, keys that match a field only in another letter case, wrong types and data after the
// object are API_BAD_REQUEST.
func DecodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return omserr.Wrap(err, omserr.APIBadRequest, "request body is not valid JSON of this request's shape", "send a JSON object with only the documented fields")
	}
	if dec.More() {
		return omserr.New(omserr.APIBadRequest, "request body has data after the JSON object", "send exactly one JSON object")
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return omserr.Wrap(err, omserr.APIBadRequest, "request body is not valid JSON", "send one JSON object")
	}
	return exactKeys(raw, reflect.TypeOf(v), "")
}

// Decode reads r's body (ReadBody) and decodes it strictly into v (DecodeStrict).
func Decode(r *http.Request, v any) error {
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	return DecodeStrict(body, v)
}
