// Package vendors is the registry of the vendor push services pushd speaks
// to. Config, the daemon, the vendor actors and the API loop over All; a new
// vendor is a client package below this one, a simulator file, and one line
// in All.
package vendors

import (
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/apns"
	"github.com/pushd-im/pushd/push/vendors/fcm"
	"github.com/pushd-im/pushd/push/vendors/hms"
	"github.com/pushd-im/pushd/push/vendors/honor"
	"github.com/pushd-im/pushd/push/vendors/oppo"
	"github.com/pushd-im/pushd/push/vendors/vivo"
	"github.com/pushd-im/pushd/push/vendors/xiaomi"
)

// All returns every vendor, in the order configs and listings show them.
func All() []push.Vendor {
	return []push.Vendor{
		apns.Vendor(),
		fcm.Vendor(),
		hms.Vendor(),
		xiaomi.Vendor(),
		oppo.Vendor(),
		vivo.Vendor(),
		honor.Vendor(),
	}
}

// Lookup returns the vendor named p, ok=false when there is none.
func Lookup(p push.Provider) (push.Vendor, bool) {
	for _, v := range All() {
		if v.Provider == p {
			return v, true
		}
	}
	return push.Vendor{}, false
}

// Providers returns every vendor's name, in All's order.
func Providers() []push.Provider {
	all := All()
	out := make([]push.Provider, len(all))
	for i, v := range all {
		out[i] = v.Provider
	}
	return out
}
