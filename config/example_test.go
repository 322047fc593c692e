package config

import (
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
	if len(c.Apps) != 1 || len(c.Apps[0].Providers.Configured()) != 6 {
		t.Fatalf("example.yaml should show one app with all six providers, got %+v", c.Apps)
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
	p := c.Apps[0].Providers
	d := Providers{APNs: &APNs{}, FCM: &FCM{}, HMS: &HMS{}, Xiaomi: &Xiaomi{}, OPPO: &OPPO{}, Vivo: &Vivo{}}
	d.ensureDefaults()
	for _, tc := range []struct{ key, got, want string }{
		{"apns.endpoint_production", p.APNs.EndpointProduction, d.APNs.EndpointProduction},
		{"apns.endpoint_development", p.APNs.EndpointDevelopment, d.APNs.EndpointDevelopment},
		{"fcm.endpoint", p.FCM.Endpoint, d.FCM.Endpoint},
		{"hms.endpoint", p.HMS.Endpoint, d.HMS.Endpoint},
		{"hms.auth_endpoint", p.HMS.AuthEndpoint, d.HMS.AuthEndpoint},
		{"xiaomi.endpoint", p.Xiaomi.Endpoint, d.Xiaomi.Endpoint},
		{"oppo.endpoint", p.OPPO.Endpoint, d.OPPO.Endpoint},
		{"vivo.endpoint", p.Vivo.Endpoint, d.Vivo.Endpoint},
	} {
		if tc.got != tc.want {
			t.Errorf("example.yaml %s = %q, the default is %q", tc.key, tc.got, tc.want)
		}
	}
	if got := p.Vivo.ClassificationValue(); got != d.Vivo.ClassificationValue() {
		t.Errorf("example.yaml vivo.classification = %d, the default is %d", got, d.Vivo.ClassificationValue())
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
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[Config]().PkgPath() || seen[typ] {
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
	if len(seen) != 16 {
		t.Errorf("walked %d struct types, want 16", len(seen))
	}
	for _, ev := range envVars() {
		if !regexp.MustCompile(`\b` + ev.name + `\b`).MatchString(example) {
			t.Errorf("example.yaml does not mention %s", ev.name)
		}
	}
}
