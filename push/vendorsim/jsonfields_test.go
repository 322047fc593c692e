package vendorsim

import "testing"

// TestJSONFieldsForms pins where the strict and loose readings differ: the
// vendors' answers depend on each.
func TestJSONFieldsForms(t *testing.T) {
	f, ok := decodeJSONObject([]byte(`{"n":7,"s":"7","sp":" 7","plus":"+7","b":true,"sb":"true","null":null,"o":{"x":1},"f":1.5}`))
	if !ok {
		t.Fatal("object not decoded")
	}
	for _, body := range []string{`null`, `[]`, `"x"`, `{`} {
		if _, ok := decodeJSONObject([]byte(body)); ok {
			t.Errorf("decodeJSONObject(%s) ok", body)
		}
	}
	for _, name := range []string{"null", "missing"} {
		if _, set, err := f.str(name); set || err != nil {
			t.Errorf("str(%s) = set %v, %v", name, set, err)
		}
		if o, set, err := f.object(name); o != nil || set || err != nil {
			t.Errorf("object(%s) = %v, set %v, %v", name, o, set, err)
		}
	}
	if _, set, err := f.integer("s"); !set || err == nil || err.Error() != "s must be an integer" {
		t.Errorf(`integer("s") = set %v, %v; want a type error`, set, err)
	}
	if _, _, err := f.object("n"); err == nil || err.Error() != "n must be an object" {
		t.Errorf(`object("n") = %v`, err)
	}
	for _, c := range []struct {
		name string
		want int
		ok   bool
	}{{"n", 7, true}, {"s", 7, true}, {"sp", 7, true}, {"plus", 7, true}, {"f", 0, false}, {"b", 0, false}} {
		n, _, err := f.looseInteger(c.name)
		if (err == nil) != c.ok || n != c.want {
			t.Errorf("looseInteger(%s) = %d, %v", c.name, n, err)
		}
	}
	for _, c := range []struct {
		name, want string
		ok         bool
	}{{"n", "7", true}, {"s", "7", true}, {"sp", "", false}, {"plus", "+7", true}, {"f", "", false}} {
		text, _, err := f.integerText(c.name)
		if (err == nil) != c.ok || text != c.want {
			t.Errorf("integerText(%s) = %q, %v", c.name, text, err)
		}
	}
	if b, _, err := f.looseBoolean("sb"); !b || err != nil {
		t.Errorf(`looseBoolean("sb") = %v, %v`, b, err)
	}
	if _, _, err := f.boolean("sb"); err == nil {
		t.Error(`boolean("sb") took a string`)
	}
}
