package api

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// TestOpenAPIListsEveryVendor: the served description names every vendor of
// the registry as a binding's provider, and nothing else changed shape.
func TestOpenAPIListsEveryVendor(t *testing.T) {
	doc, err := openAPIDoc()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Components struct {
			Schemas struct {
				BindRequest struct {
					Properties struct {
						Provider struct {
							Enum []push.Provider `json:"enum"`
						} `json:"provider"`
					} `json:"properties"`
				} `json:"BindRequest"`
			} `json:"schemas"`
		} `json:"components"`
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Components.Schemas.BindRequest.Properties.Provider.Enum; !slices.Equal(got, vendors.Providers()) {
		t.Errorf("provider enum %v, want %v", got, vendors.Providers())
	}
	var embedded struct {
		Paths map[string]any `json:"paths"`
	}
	if json.Unmarshal(openAPI, &embedded) != nil || len(d.Paths) != len(embedded.Paths) || len(d.Paths) == 0 {
		t.Errorf("paths %d, embedded %d", len(d.Paths), len(embedded.Paths))
	}
}
