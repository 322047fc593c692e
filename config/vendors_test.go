package config

import (
	"github.com/pushd-im/pushd/transport/vendors/apns"
	"github.com/pushd-im/pushd/transport/vendors/fcm"
	"github.com/pushd-im/pushd/transport/vendors/hms"
	"github.com/pushd-im/pushd/transport/vendors/oppo"
	"github.com/pushd-im/pushd/transport/vendors/vivo"
	"github.com/pushd-im/pushd/transport/vendors/xiaomi"
)

// The vendors' config blocks under the names the tests used when config
// declared them.
type (
	APNs   = apns.Config
	FCM    = fcm.Config
	HMS    = hms.Config
	Xiaomi = xiaomi.Config
	OPPO   = oppo.Config
	Vivo   = vivo.Config
)
