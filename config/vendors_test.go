package config

import (
	"github.com/pushd-im/pushd/push/vendors/apns"
	"github.com/pushd-im/pushd/push/vendors/fcm"
	"github.com/pushd-im/pushd/push/vendors/hms"
	"github.com/pushd-im/pushd/push/vendors/oppo"
	"github.com/pushd-im/pushd/push/vendors/vivo"
	"github.com/pushd-im/pushd/push/vendors/xiaomi"
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
