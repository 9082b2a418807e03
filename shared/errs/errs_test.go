package errs_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/errs"
)

func TestFieldsErr(t *testing.T) {
	tests := []struct {
		name   string
		add    [][2]string
		want   []errs.FieldError
		wantOK bool // Err returns nil
	}{
		{name: "nil fields", wantOK: true},
		{name: "one field", add: [][2]string{{"email", "is required"}},
			want: []errs.FieldError{{Field: "email", Reason: "is required"}}},
		{name: "several fields keep their order", add: [][2]string{{"b", "x"}, {"a", "y"}, {"b", "z"}},
			want: []errs.FieldError{{Field: "b", Reason: "x"}, {Field: "a", Reason: "y"}, {Field: "b", Reason: "z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f errs.Fields
			for _, a := range tt.add {
				f.Add(a[0], a[1])
			}
			err := f.Err()
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Err() = %v, want nil", err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok {
				t.Fatalf("Err() = %#v, want *errs.Error", err)
			}
			if e.Code != errs.Invalid {
				t.Errorf("Code = %q, want %q", e.Code, errs.Invalid)
			}
			if !slices.Equal(e.Fields, tt.want) {
				t.Errorf("Fields = %v, want %v", e.Fields, tt.want)
			}
		})
	}
}

func TestFieldsErrEmptyNonNilIsNil(t *testing.T) {
	f := errs.Fields{}
	if err := f.Err(); err != nil {
		t.Fatalf("empty non-nil Fields.Err() = %v, want nil", err)
	}
	// A nil *Error stored in an error interface would be non-nil; make sure Err returns a true nil.
	var err error = f.Err()
	if err != nil {
		t.Fatalf("Err() as error interface is non-nil: %#v", err)
	}
}

func TestCodeOf(t *testing.T) {
	inner := errs.E(errs.Conflict, "the profile changed concurrently")
	tests := []struct {
		name string
		err  error
		want errs.Code
	}{
		{"plain error is internal", errors.New("boom"), errs.Internal},
		{"io.EOF is internal", io.EOF, errs.Internal},
		{"direct", errs.E(errs.NotFound, "profile not found"), errs.NotFound},
		{"field error", errs.Field("email", "is required"), errs.Invalid},
		{"wrapped once", fmt.Errorf("put consent: %w", inner), errs.Conflict},
		{"wrapped twice", fmt.Errorf("handler: %w", fmt.Errorf("put consent: %w", inner)), errs.Conflict},
		{"wrapped with %v loses the code", fmt.Errorf("put consent: %v", inner), errs.Internal},
		{"joined", errors.Join(errors.New("other"), errs.E(errs.Forbidden, "scope")), errs.Forbidden},
		{"outer Error wins over inner", &errs.Error{Code: errs.TooLarge, Message: "too big", Err: inner}, errs.TooLarge},
		{"Error wrapping a sentinel", &errs.Error{Code: errs.Conflict, Message: "stale", Err: errs.ErrStale}, errs.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errs.CodeOf(tt.err); got != tt.want {
				t.Errorf("CodeOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestAs(t *testing.T) {
	inner := errs.E(errs.NotFound, "catalog not found")
	outer := &errs.Error{Code: errs.Internal, Message: "load", Err: inner}
	tests := []struct {
		name   string
		err    error
		want   *errs.Error
		wantOK bool
	}{
		{"nil", nil, nil, false},
		{"plain", errors.New("x"), nil, false},
		{"direct", inner, inner, true},
		{"through fmt.Errorf", fmt.Errorf("catalog: %w", inner), inner, true},
		{"first in chain", fmt.Errorf("x: %w", outer), outer, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := errs.As(tt.err)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("As(%v) = (%p, %v), want (%p, %v)", tt.err, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestErrorStringAndUnwrap(t *testing.T) {
	tests := []struct {
		name string
		err  *errs.Error
		want string
	}{
		{"no cause", errs.E(errs.Forbidden, "the key lacks the scope"), "forbidden: the key lacks the scope"},
		{"with cause", &errs.Error{Code: errs.Conflict, Message: "stale", Err: errs.ErrStale}, "conflict: stale: item changed since it was read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	wrapped := fmt.Errorf("commit: %w", &errs.Error{Code: errs.Conflict, Message: "the profile changed concurrently", Err: errs.ErrStale})
	if !errors.Is(wrapped, errs.ErrStale) {
		t.Errorf("errors.Is(wrapped, ErrStale) = false, want true")
	}
	if errors.Is(wrapped, errs.ErrReplay) {
		t.Errorf("errors.Is(wrapped, ErrReplay) = true, want false")
	}
}

func TestFieldAndE(t *testing.T) {
	e := errs.Field("identities[0].value", "must be an email address")
	if e.Code != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "identities[0].value" {
		t.Errorf("Field() = %+v", e)
	}
	if strings.Contains(e.Message, "identities") {
		t.Errorf("Field() message %q should be generic, the field belongs in Fields", e.Message)
	}
	e2 := errs.E(errs.NotFound, "no such purpose", errs.FieldError{Field: "purpose", Reason: "unknown purpose"})
	if e2.Code != errs.NotFound || len(e2.Fields) != 1 || e2.Fields[0].Field != "purpose" || e2.Err != nil {
		t.Errorf("E() = %+v", e2)
	}
}
