// Package errs is the product's one error vocabulary. Every layer reports failures as an
// *Error with a Code; only the HTTP edge turns codes into status codes.
package errs

import (
	"errors"
	"fmt"
)

// Code classifies an error by what the caller can do about it.
type Code string

// The codes. Anything that is not an *Error is Internal.
const (
	Invalid            Code = "invalid"             // the request breaks the API's document: malformed, wrong shape or type, out of pattern
	Unprocessable      Code = "unprocessable"       // well-formed, but it names what the tenant's state lacks or breaks a cross-field rule
	NotFound           Code = "not_found"           // the resource does not exist for this caller
	MethodNotAllowed   Code = "method_not_allowed"  // the path exists, but not with this method
	Conflict           Code = "conflict"            // the request clashes with the current state
	Erased             Code = "erased"              // an identity belongs to an erased person (suppressed)
	PreconditionFailed Code = "precondition_failed" // If-Match did not match the current version
	Unauthorized       Code = "unauthorized"        // no valid credentials
	Forbidden          Code = "forbidden"           // credentials lack the scope
	TooLarge           Code = "too_large"           // the body exceeds the endpoint's limit
	UnsupportedMedia   Code = "unsupported_media"   // the body is not JSON
	TooManyRequests    Code = "too_many_requests"   // retry later
	Internal           Code = "internal"            // our fault; details are logged, never shown
)

// FieldError names one offending input field with a JSON-pointer-like path ("identities[0].value").
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
	unmet  bool   // a rule of the tenant's state or across fields, which no schema can say
}

// Error is a classified error. Message is safe to show to the API caller: it never holds
// personal data or internal detail.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error // the cause, for logs and errors.Is; never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error with a code and a caller-safe message.
func E(code Code, msg string, fields ...FieldError) *Error {
	return &Error{Code: code, Message: msg, Fields: fields}
}

// Field builds an Invalid error about one field.
func Field(field, reason string) *Error {
	return &Error{Code: Invalid, Message: "the request has invalid fields", Fields: []FieldError{{Field: field, Reason: reason}}}
}

// Unmet builds an Unprocessable error about one field: the request is well-formed, but the
// field names what the tenant's state lacks (a purpose, a locale, a cursor of this API) or
// breaks a rule across fields.
func Unmet(field, reason string) *Error {
	return &Error{Code: Unprocessable, Message: "the request has fields the current state cannot take", Fields: []FieldError{{Field: field, Reason: reason}}}
}

// Fields collects field errors; Err returns nil while none were added.
type Fields []FieldError

// Add records a field that breaks the API's document (shape, type, pattern, length).
func (f *Fields) Add(field, reason string) { *f = append(*f, FieldError{Field: field, Reason: reason}) }

// Unmet records a field that is well-formed but that the tenant's state cannot take, or that
// breaks a rule across fields (see Unmet).
func (f *Fields) Unmet(field, reason string) {
	*f = append(*f, FieldError{Field: field, Reason: reason, unmet: true})
}

// Join adds the fields of err, an *Error from another validation, keeping what kind of
// refusal they are: Add for an Invalid error, else Unmet (a field that names what the state
// lacks, such as a NotFound purpose, is a rule of state within a larger request). It ignores
// any other error.
func (f *Fields) Join(err error) {
	e, ok := As(err)
	if !ok {
		return
	}
	for _, fe := range e.Fields {
		*f = append(*f, FieldError{Field: fe.Field, Reason: fe.Reason, unmet: e.Code != Invalid})
	}
}

// Err returns nil if no field was collected; an Unprocessable error if every field was
// recorded with Unmet; else an Invalid error. Either names every collected field, in order:
// a request that breaks the document is refused as such even when it also breaks a rule of
// state.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	code, msg := Unprocessable, "the request has fields the current state cannot take"
	out := make([]FieldError, len(f))
	for i, fe := range f {
		if !fe.unmet {
			code, msg = Invalid, "the request has invalid fields"
		}
		out[i] = FieldError{Field: fe.Field, Reason: fe.Reason}
	}
	return &Error{Code: code, Message: msg, Fields: out}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Sentinels that storage adapters wrap so that callers can tell conflicts apart.
var (
	// ErrStale means the item changed since it was read (optimistic concurrency).
	ErrStale = errors.New("item changed since it was read")
	// ErrReplay means an idempotency record for the key already exists.
	ErrReplay = errors.New("idempotency key already used")
	// ErrIdentityTaken means an identity already belongs to another profile.
	ErrIdentityTaken = errors.New("identity belongs to another profile")
)
