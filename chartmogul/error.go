package chartmogul

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ErrorCode classifies an Error. The local ChartMogul maps each code to one
// HTTP status and one of ChartMogul's error bodies, in one place (package
// sandbox/api); the Client maps each status it receives back to a code
// (CodeOfStatus), so that both sides speak of failures in the same words.
type ErrorCode string

// The error codes. Their HTTP statuses are given for orientation; the mapping
// itself lives in package api.
const (
	EINVALID      ErrorCode = "invalid"      // 422: the request is well-formed but a record breaks a rule
	EBADREQUEST   ErrorCode = "bad_request"  // 400: malformed JSON, unknown keys, bad query parameters
	EUNAUTHORIZED ErrorCode = "unauthorized" // 401: no key, or a key Recur does not know
	EFORBIDDEN    ErrorCode = "forbidden"    // 403: the key may not do this (read-only keys writing)
	ENOTFOUND     ErrorCode = "not_found"    // 404: no such object in this account
	ETOOLARGE     ErrorCode = "too_large"    // 413: the body is over the payload limit
	ECONFLICT     ErrorCode = "conflict"     // 422: an object with this identity already exists
	ERATELIMIT    ErrorCode = "rate_limited" // 429: too many requests, or the import queue is full
	EUNAVAILABLE  ErrorCode = "unavailable"  // 503: shutting down, or the database cannot be reached
	EINTERNAL     ErrorCode = "internal"     // 500: a fault of Recur's, never the caller's
	EMETHOD       ErrorCode = "method"       // 405: the route exists but not with this method
)

// Error is the application error. Every error that reaches a user is one of
// these, or is wrapped into an EINTERNAL one with a generic message.
//
// Message is a sentence a person can act on. Param names the parameter or
// field at fault, where there is one. Fields carries per-field messages for
// validation errors, keyed by the field's name as it appears on the wire
// (ChartMogul's {"errors": {field: message}} body).
type Error struct {
	Code    ErrorCode
	Message string
	Param   string
	Fields  map[string]string
	// Resource names the kind of object for not-found errors ("Data source"),
	// which ChartMogul's bodies spell out.
	Resource string
	// Err is the underlying cause, kept for logs; it is never shown to users.
	Err error
	// Status is the HTTP status a server answered with, when the error is
	// the Client's reading of an answer; 0 otherwise.
	Status int
	// RetryAfter is how long the server asked the client to wait (its
	// Retry-After header), when it did.
	RetryAfter time.Duration
}

// Error returns the message, with the cause for logs when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	if e.Message == "" && len(e.Fields) > 0 {
		keys := slices.Sorted(maps.Keys(e.Fields))
		return fmt.Sprintf("%s %s", keys[0], e.Fields[keys[0]])
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns an ENOTFOUND error for a resource ("Data source",
// "Customer", ...), with ChartMogul's message "<Resource> not found".
func NotFound(resource string) *Error {
	return &Error{Code: ENOTFOUND, Resource: resource, Message: resource + " not found"}
}

// Invalid returns an EINVALID error carrying one message per field.
func Invalid(fields map[string]string) *Error {
	return &Error{Code: EINVALID, Fields: fields}
}

// ErrorCodeOf returns the code of err's Error, or EINTERNAL when err is not an
// Error (or is nil, which callers should not ask about).
func ErrorCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// IsNotFound reports whether err is an ENOTFOUND Error.
func IsNotFound(err error) bool { return ErrorCodeOf(err) == ENOTFOUND }
