// Package vendorhttp is the HTTP plumbing every vendor client shares: the
// HTTP/2 client that trusts an extra CA file (and the checks of the endpoint,
// CA file and timeout options that configure it), Retry-After, a cached
// credential with single-flight refresh, and the request/answer exchange
// record (push.Exchange, secrets masked, the answer body bounded); and the
// few vendor-neutral cuts and reads of their fields (CutBytes, CutChars,
// JSONInt) that several vendors need alike.
//
// It knows HTTP and text only. What an answer means — a vendor's codes,
// fields, signs and token lifetimes — stays in the vendor's own package.
package vendorhttp
