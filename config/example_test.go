package config

import (
	"github.com/pushd-im/pushd/push/vendors"
	"os"
	"reflect"
	"regexp"
	"testing"
)

func TestExampleLoads(t *testing.T) {
	c, err := Load("example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Apps) != 1 || len(c.Apps[0].Providers.Configured()) != len(vendors.All()) {
		t.Fatalf("example.yaml should show one app with every provider, got %+v", c.Apps)
	}

	// The settings it shows are the defaults.
	top := *c
	top.Apps = nil
	if len(top.Cluster.Join) == 0 {
		top.Cluster.Join = nil
	}
	if !reflect.DeepEqual(&top, Default()) {
		t.Errorf("example.yaml does not show the defaults:\n%s\nwant\n%s", top.String(), Default())
	}
	// Each vendor block shows the defaults its vendor fills in.
	for _, v := range vendors.All() {
		got := c.Apps[0].Providers[v.Provider]
		if got == nil {
			t.Errorf("example.yaml shows no %s block", v.Provider)
			continue
		}
		d := v.NewConfig()
		d.SetDefaults()
		var same func(dv, gv reflect.Value)
		same = func(dv, gv reflect.Value) {
			for i := 0; i < dv.NumField(); i++ {
				switch f := dv.Type().Field(i); {
				case f.Anonymous && f.Type.Kind() == reflect.Struct: // an ",inline" part of the block
					same(dv.Field(i), gv.Field(i))
				case !dv.Field(i).IsZero() && !reflect.DeepEqual(dv.Field(i).Interface(), gv.Field(i).Interface()):
					t.Errorf("example.yaml %s.%s = %v, the default is %v", v.Provider, f.Name, gv.Field(i), dv.Field(i))
				}
			}
		}
		same(reflect.ValueOf(d).Elem(), reflect.ValueOf(got).Elem())
	}
}

// TestExampleListsEveryKey checks that example.yaml mentions every key and
// every PUSHD_* variable, so that it stays complete as keys are added.
func TestExampleListsEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example := string(data)
	seen := map[reflect.Type]bool{}
	blocks := map[reflect.Type]bool{} // each vendor's config block, walked like config's own types
	for _, v := range vendors.All() {
		blocks[reflect.TypeOf(v.NewConfig()).Elem()] = true
	}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[Config]().PkgPath() && !blocks[typ] || seen[typ] {
			return
		}
		seen[typ] = true
		for _, key := range yamlKeys(typ) {
			if !regexp.MustCompile(`(?m)(^|[\s{,])` + regexp.QuoteMeta(key) + `:`).MatchString(example) {
				t.Errorf("example.yaml does not show %s.%s", typ.Name(), key)
			}
		}
		for i := 0; i < typ.NumField(); i++ {
			walk(typ.Field(i).Type)
		}
	}
	walk(reflect.TypeFor[Config]())
	for typ := range blocks {
		walk(typ)
	}
	if want := 10 + len(blocks); len(seen) != want {
		t.Errorf("walked %d struct types, want %d", len(seen), want)
	}
	for _, ev := range envVars() {
		if !regexp.MustCompile(`\b` + ev.name + `\b`).MatchString(example) {
			t.Errorf("example.yaml does not mention %s", ev.name)
		}
	}
}
