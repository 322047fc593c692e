package wire

// The stable vocabularies that travel in string fields of the generated types.
// The proto fields stay strings so that nodes of different versions can talk
// (a code or action one node does not know is an ordinary value, not a decode
// error); these named types let the Go code that sets and matches them be
// checked by the compiler instead of by spelling.

// ErrorCode is Error.Code: what went wrong with a request, stable across
// versions (the HTTP API returns it to clients as is).
type ErrorCode string

// Every ErrorCode. The HTTP API gives each one a status; a code added here
// without one fails transport/api's tests.
const (
	CodeBadRequest            ErrorCode = "bad_request"             // the request is malformed
	CodeNotFound              ErrorCode = "not_found"               // no such binding, group or call
	CodeConflict              ErrorCode = "conflict"                // the state moved under the request (call exists, bind lost to a newer one)
	CodeForbidden             ErrorCode = "forbidden"               // the caller may not act on this call
	CodeCallEnded             ErrorCode = "call_ended"              // the call no longer rings for the caller
	CodeTooManyDevices        ErrorCode = "too_many_devices"        // the user is at the device limit
	CodeTooManyConnections    ErrorCode = "too_many_connections"    // the user is at its cap of long connections
	CodeTooManyMembers        ErrorCode = "too_many_members"        // the group would pass the member limit
	CodeNotMember             ErrorCode = "not_member"              // a sender outside the group
	CodeProviderNotConfigured ErrorCode = "provider_not_configured" // the binding's vendor is not set up for the app
	CodeStorageFailed         ErrorCode = "storage_failed"          // the store refused a read or write
	CodeStorageUnavailable    ErrorCode = "storage_unavailable"     // the disk is short of space: new data is refused until it has room
	CodeUnavailable           ErrorCode = "unavailable"             // the work was only partly done; try again
	CodeNodeWorkFailed        ErrorCode = "node_work_failed"        // a node could not do its share of a fan-out
	CodeUnknownType           ErrorCode = "unknown_type"            // an actor got a message it does not handle (a newer peer's)
	CodeBadKey                ErrorCode = "bad_key"                 // a routing key names no kind of actor
	CodeRegisteredAgain       ErrorCode = "registered_again"        // a token's holder bound it again after the claimer's bind
)

// CallAction is CallRequest.Action: what to do to a call.
type CallAction string

// Every CallAction. Cancel, accept and reject are also the last segment of
// their HTTP routes.
const (
	CallInvite CallAction = "invite" // a new call; the node makes its id
	CallCancel CallAction = "cancel" // the inviter ends the call
	CallAccept CallAction = "accept"
	CallReject CallAction = "reject"
	CallResume CallAction = "resume" // a node restarts an unended call's actor to re-arm its timeout
)

// GroupOp is GroupSetRequest.Op: how a member list changes a group.
type GroupOp string

// Every GroupOp.
const (
	GroupReplace GroupOp = "replace" // the list becomes the members
	GroupAdd     GroupOp = "add"
	GroupRemove  GroupOp = "remove" // of a group that exists
)
