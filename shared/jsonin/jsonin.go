// Package jsonin reads JSON input strictly: every request body and document the service
// accepts from outside goes through Decode. For the bytes it accepts, Decode guarantees:
//
//   - they are exactly one JSON value (RFC 8259), nested at most MaxDepth deep, with only
//     white space around it;
//   - every string, object keys included, is valid UTF-8 with no lone or reversed surrogate
//     escape, and holds no control character (C0, DEL or C1, escaped or not). Two kinds of
//     strings may hold tab, newline and carriage return, as free text does: those bound to a
//     struct field tagged `jsonin:"text"` (reasons, notes, descriptions, notice texts) and
//     those inside untyped values (any, such as attribute values). Object keys never may;
//   - no object holds the same key twice, at any depth;
//   - null appears only where the target is an untyped value (any); never as the body, nor
//     where an object, array, string, number, boolean or time is expected;
//   - every key of an object bound to a struct names one of its fields exactly (the json
//     tag, case-sensitive; embedded structs' fields count as the outer struct's);
//   - a number bound to an integer is an integer in any JSON spelling (2, 2.0, 2e0, 20e-1)
//     within the type's range; a fraction or an out-of-range number is refused;
//   - a time.Time is an RFC 3339 string.
//
// A refusal is an *Error naming the path of the offending value and the rule in words,
// never a Go type name. Paths join field names and map keys with dots and give array
// indices in brackets: changes[1].consents.marketing.noticeVersion. A map key that is not
// plain (letters, digits, _ and - only) is quoted in brackets instead: attributes["a.b"].
// The body itself is (body). Decode never panics on any input.
package jsonin

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds how deeply arrays and objects may nest; no input of ours needs more.
const MaxDepth = 32

// Body is the path of the whole value.
const Body = "(body)"

// Error is a refused input: the path of the value and the reason, such as
// "must be a whole number".
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string { return e.Path + ": " + e.Reason }

// Decode reads b as one JSON value into v, a non-nil pointer, by the rules of the package.
// On error v may be partly filled.
func Decode(b []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &Error{Path: Body, Reason: "cannot be read into a non-pointer"}
	}
	p := parser{b: b}
	n, err := p.document()
	if err != nil {
		return err
	}
	d := decoder{}
	return d.value(n, rv.Elem(), false)
}

// Valid reports the first rule b breaks as a document of any shape (as if decoded into
// an any), or nil.
func Valid(b []byte) error {
	var v any
	return Decode(b, &v)
}

// seg is one step of a path: an index, or a field name or key.
type seg struct {
	key   string
	index int // -1 for a key
}

type path []seg

func (p path) String() string {
	if len(p) == 0 {
		return Body
	}
	var sb strings.Builder
	for i, s := range p {
		switch {
		case s.index >= 0:
			sb.WriteString("[" + strconv.Itoa(s.index) + "]")
		case plain(s.key):
			if i > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(s.key)
		default:
			sb.WriteString("[" + strconv.Quote(s.key) + "]")
		}
	}
	return sb.String()
}

// plain reports whether a key can be written bare in a path.
func plain(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

// node is one parsed value. A string's control characters are noted rather than refused,
// because whether tab, newline and carriage return are allowed depends on the target.
type node struct {
	kind  kind
	str   string // a string's text or a number's literal
	bool  bool
	space bool     // a string holds tab, newline or carriage return
	ctl   bool     // a string holds another control character
	elems []node   // an array's elements, an object's values
	keys  []string // an object's keys
}

type parser struct {
	b     []byte
	i     int
	path  path
	depth int
}

func (p *parser) fail(reason string) error {
	return &Error{Path: p.path.String(), Reason: reason}
}

func (p *parser) syntax() error {
	if p.i >= len(p.b) {
		return p.fail("is not valid JSON (it ends too early)")
	}
	return p.fail(fmt.Sprintf("is not valid JSON (at byte %d)", p.i))
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) document() (node, error) {
	n, err := p.value()
	if err != nil {
		return n, err
	}
	p.space()
	if p.i < len(p.b) {
		return n, &Error{Path: Body, Reason: "holds more than one JSON value"}
	}
	return n, nil
}

func (p *parser) value() (node, error) {
	p.space()
	if p.i >= len(p.b) {
		return node{}, p.syntax()
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case p.literal("true"):
		return node{kind: kBool, bool: true}, nil
	case p.literal("false"):
		return node{kind: kBool}, nil
	case p.literal("null"):
		return node{kind: kNull}, nil
	}
	return node{}, p.syntax()
}

func (p *parser) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *parser) nest() error {
	if p.depth++; p.depth > MaxDepth {
		return p.fail(fmt.Sprintf("nests more than %d deep", MaxDepth))
	}
	return nil
}

func (p *parser) object() (node, error) {
	n := node{kind: kObject}
	if err := p.nest(); err != nil {
		return n, err
	}
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return n, nil
	}
	seen := map[string]bool{}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return n, p.syntax()
		}
		k, err := p.string()
		if err != nil {
			return n, err
		}
		if k.ctl || k.space {
			return n, p.fail("has a key with a control character")
		}
		p.path = append(p.path, seg{key: k.str, index: -1})
		if seen[k.str] {
			return n, p.fail("appears more than once")
		}
		seen[k.str] = true
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return n, p.syntax()
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return n, err
		}
		p.path = p.path[:len(p.path)-1]
		n.keys, n.elems = append(n.keys, k.str), append(n.elems, v)
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			p.depth--
			return n, nil
		}
		return n, p.syntax()
	}
}

func (p *parser) array() (node, error) {
	n := node{kind: kArray}
	if err := p.nest(); err != nil {
		return n, err
	}
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return n, nil
	}
	for {
		p.path = append(p.path, seg{index: len(n.elems)})
		v, err := p.value()
		if err != nil {
			return n, err
		}
		p.path = p.path[:len(p.path)-1]
		n.elems = append(n.elems, v)
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			p.depth--
			return n, nil
		}
		return n, p.syntax()
	}
}

// control reports whether r is a C0, DEL or C1 control character.
func control(r rune) bool { return r < 0x20 || 0x7f <= r && r <= 0x9f }

func (p *parser) string() (node, error) {
	n := node{kind: kString}
	p.i++ // "
	var sb strings.Builder
	note := func(r rune) {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			n.space = true
		case control(r):
			n.ctl = true
		}
	}
	for {
		if p.i >= len(p.b) {
			return n, p.syntax()
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			n.str = sb.String()
			return n, nil
		case c < 0x20:
			return n, p.fail("must not hold control characters")
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return n, err
			}
			note(r)
			sb.WriteRune(r)
		case c < utf8.RuneSelf:
			if c == 0x7f {
				n.ctl = true
			}
			sb.WriteByte(c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				return n, p.fail("is not valid UTF-8")
			}
			note(r)
			sb.WriteRune(r)
			p.i += size
		}
	}
}

// escape reads one escape sequence; a \u pair of surrogates is one rune.
func (p *parser) escape() (rune, error) {
	if p.i+1 >= len(p.b) {
		p.i = len(p.b)
		return 0, p.syntax()
	}
	p.i++
	c := p.b[p.i]
	p.i++
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		switch {
		case 0xdc00 <= r && r <= 0xdfff:
			return 0, p.fail("holds a lone surrogate escape")
		case 0xd800 <= r && r <= 0xdbff:
			if !p.literal(`\u`) {
				return 0, p.fail("holds a lone surrogate escape")
			}
			lo, err := p.hex4()
			if err != nil {
				return 0, err
			}
			if lo < 0xdc00 || lo > 0xdfff {
				return 0, p.fail("holds a lone surrogate escape")
			}
			return utf16.DecodeRune(r, lo), nil
		}
		return r, nil
	}
	p.i -= 2
	return 0, p.syntax()
}

func (p *parser) hex4() (rune, error) {
	if len(p.b)-p.i < 4 {
		p.i = len(p.b)
		return 0, p.syntax()
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, p.syntax()
		}
	}
	p.i += 4
	return r, nil
}

// number reads a number by the RFC 8259 grammar; its value is judged by the target.
func (p *parser) number() (node, error) {
	start := p.i
	digits := func() int {
		s := p.i
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
		}
		return p.i - s
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return node{}, p.syntax()
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return node{}, p.syntax()
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return node{}, p.syntax()
		}
	}
	return node{kind: kNumber, str: string(p.b[start:p.i])}, nil
}

// integer returns the exact value of a number literal when it is a whole number of at
// most 19 digits: ok false for a fraction, inRange false for a larger one.
func integer(lit string) (v string, neg, ok, inRange bool) {
	neg = strings.HasPrefix(lit, "-")
	mant, e, hasExp := strings.Cut(strings.TrimPrefix(lit, "-"), "e")
	if !hasExp {
		mant, e, hasExp = strings.Cut(mant, "E")
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return "0", false, true, true
	}
	exp := 0
	if hasExp {
		var err error
		if exp, err = strconv.Atoi(e); err != nil || exp > 1<<20 || exp < -1<<20 { // a tiny fraction or huge
			return "", neg, !strings.HasPrefix(e, "-"), false
		}
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed) - len(frac)
	if exp < 0 {
		return "", neg, false, true
	}
	if len(trimmed)+exp > 19 {
		return "", neg, true, false
	}
	return trimmed + strings.Repeat("0", exp), neg, true, true
}

type decoder struct {
	path path
}

func (d *decoder) fail(reason string) error {
	return &Error{Path: d.path.String(), Reason: reason}
}

var timeType = reflect.TypeFor[time.Time]()

// value stores n in v; text says the strings may hold tab, newline and carriage return.
func (d *decoder) value(n node, v reflect.Value, text bool) error {
	t := v.Type()
	if n.kind == kNull {
		if t.Kind() == reflect.Interface && t.NumMethod() == 0 {
			v.SetZero()
			return nil
		}
		return d.fail("must not be null")
	}
	if t == timeType {
		if n.kind != kString || n.ctl || n.space {
			return d.fail("must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z")
		}
		tu := v.Addr().Interface().(encoding.TextUnmarshaler)
		if err := tu.UnmarshalText([]byte(n.str)); err != nil {
			return d.fail("must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.value(n, v.Elem(), text)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			break
		}
		g, err := d.untyped(n)
		if err != nil {
			return err
		}
		if g == nil {
			v.SetZero()
		} else {
			v.Set(reflect.ValueOf(g))
		}
		return nil
	case reflect.String:
		if n.kind != kString {
			return d.fail("must be a string")
		}
		if n.ctl || n.space && !text {
			return d.fail("must not hold control characters")
		}
		v.SetString(n.str)
		return nil
	case reflect.Bool:
		if n.kind != kBool {
			return d.fail("must be true or false")
		}
		v.SetBool(n.bool)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.kind != kNumber {
			return d.fail("must be a whole number")
		}
		s, neg, ok, inRange := integer(n.str)
		if !ok {
			return d.fail("must be a whole number")
		}
		if neg {
			s = "-" + s
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if !inRange || err != nil || v.OverflowInt(i) {
			return d.fail("is out of range")
		}
		v.SetInt(i)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.kind != kNumber {
			return d.fail("must be a whole number")
		}
		s, neg, ok, inRange := integer(n.str)
		if !ok {
			return d.fail("must be a whole number")
		}
		u, err := strconv.ParseUint(s, 10, 64)
		if !inRange || err != nil || neg && u != 0 || v.OverflowUint(u) {
			return d.fail("is out of range")
		}
		v.SetUint(u)
		return nil
	case reflect.Float32, reflect.Float64:
		if n.kind != kNumber {
			return d.fail("must be a number")
		}
		f, err := strconv.ParseFloat(n.str, t.Bits())
		if err != nil || v.OverflowFloat(f) {
			return d.fail("is out of range")
		}
		v.SetFloat(f)
		return nil
	case reflect.Slice:
		if n.kind != kArray {
			return d.fail("must be an array")
		}
		s := reflect.MakeSlice(t, len(n.elems), len(n.elems))
		for i, e := range n.elems {
			d.path = append(d.path, seg{index: i})
			if err := d.value(e, s.Index(i), text); err != nil {
				return err
			}
			d.path = d.path[:len(d.path)-1]
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			break
		}
		if n.kind != kObject {
			return d.fail("must be an object")
		}
		m := reflect.MakeMapWithSize(t, len(n.keys))
		for i, k := range n.keys {
			d.path = append(d.path, seg{key: k, index: -1})
			e := reflect.New(t.Elem()).Elem()
			if err := d.value(n.elems[i], e, text); err != nil {
				return err
			}
			d.path = d.path[:len(d.path)-1]
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		v.Set(m)
		return nil
	case reflect.Struct:
		if n.kind != kObject {
			return d.fail("must be an object")
		}
		fields := fieldsOf(t)
		for i, k := range n.keys {
			d.path = append(d.path, seg{key: k, index: -1})
			f, ok := fields[k]
			if !ok {
				return d.fail("is not a known field")
			}
			if err := d.value(n.elems[i], fieldOf(v, f.index), f.text); err != nil {
				return err
			}
			d.path = d.path[:len(d.path)-1]
		}
		return nil
	}
	return d.fail("cannot be read") // a target type this package does not support
}

// untyped converts n as encoding/json does into an any: numbers become float64.
func (d *decoder) untyped(n node) (any, error) {
	switch n.kind {
	case kBool:
		return n.bool, nil
	case kNumber:
		f, err := strconv.ParseFloat(n.str, 64)
		if err != nil {
			return nil, d.fail("is out of range")
		}
		return f, nil
	case kString:
		if n.ctl {
			return nil, d.fail("must not hold control characters")
		}
		return n.str, nil
	case kArray:
		out := make([]any, len(n.elems))
		for i, e := range n.elems {
			d.path = append(d.path, seg{index: i})
			g, err := d.untyped(e)
			if err != nil {
				return nil, err
			}
			d.path = d.path[:len(d.path)-1]
			out[i] = g
		}
		return out, nil
	case kObject:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			d.path = append(d.path, seg{key: k, index: -1})
			g, err := d.untyped(n.elems[i])
			if err != nil {
				return nil, err
			}
			d.path = d.path[:len(d.path)-1]
			out[k] = g
		}
		return out, nil
	}
	return nil, nil
}

type field struct {
	index []int
	text  bool
}

var fieldCache sync.Map // reflect.Type → map[string]field

// fieldsOf maps the JSON names of t's fields, embedded structs' fields included (the
// shallower one wins a name, as in encoding/json), to where they are.
func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	out := map[string]field{}
	depth := map[string]int{}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			ft := sf.Type
			if sf.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, idx)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, ok := depth[name]; ok && d <= len(idx) {
				continue
			}
			depth[name] = len(idx)
			out[name] = field{index: idx, text: sf.Tag.Get("jsonin") == "text"}
		}
	}
	walk(t, nil)
	fieldCache.Store(t, out)
	return out
}

// fieldOf returns the field at index, allocating embedded pointers on the way.
func fieldOf(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}
