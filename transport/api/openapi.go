package api

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/pushd-im/pushd/push/vendors"
)

//go:embed openapi.json
var openAPI []byte

// openAPIDoc is the embedded description with BindRequest.provider's enum
// set from the vendor registry, so that a new vendor shows in it without an
// edit here. It is built once per Server.
func openAPIDoc() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.json: %w", err)
	}
	node := any(doc)
	for _, k := range []string{"components", "schemas", "BindRequest", "properties", "provider"} {
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("api: openapi.json has no %s", k)
		}
		node = m[k]
	}
	provider, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("api: openapi.json has no BindRequest.provider")
	}
	provider["enum"] = vendors.Providers()
	return json.MarshalIndent(doc, "", " ")
}
