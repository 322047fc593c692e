package hms

import "github.com/pushd-im/pushd/transport/vendors/vendorhttp"

// The Retry-After tests were written when each vendor package read the header
// itself; they now check the shared reading under its old names.
var retryAfter = vendorhttp.RetryAfter

const maxRetryAfter = vendorhttp.MaxRetryAfter
