package portal

import "strings"

// field is one labelled form control with its hint and error, ready to render: the
// formField component links them with aria-describedby and marks errors with aria-invalid.
type field struct {
	ID, Name, Label, Hint string
	Error, ErrorPrefix    string
	Type, Value           string // Type of an input: text, email, date, number
	Autocomplete          string
	InputMode             string
	MaxLength             int
	Required              bool
	Options               []option // a select instead of an input, when set
}

type option struct {
	Value, Label string
	Selected     bool
}

// DescribedBy is the ids of the field's hint and error, for aria-describedby.
func (f field) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}
