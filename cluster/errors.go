package cluster

import "errors"

var (
	// ErrInvalidConfig is wrapped by every *ConfigError that New reports.
	ErrInvalidConfig = errors.New("cluster: invalid config")
	// ErrStarted is returned by a second call to Start.
	ErrStarted = errors.New("cluster: node already started")
	// ErrShutdown is returned by Start on a node that is shut down or being shut down.
	ErrShutdown = errors.New("cluster: node shut down")
	// ErrJoin is returned by Start when ctx ended before any peer in Config.Join answered. The
	// error also wraps ctx.Err() and the last join failure.
	ErrJoin = errors.New("cluster: could not join the cluster")
	// ErrClusterMismatch is returned by Start when the nodes it reached belong to a cluster with
	// another id.
	ErrClusterMismatch = errors.New("cluster: the nodes reached belong to another cluster")
)

// ConfigError is one problem with one Config field. New returns all problems at once, joined with
// errors.Join; each one wraps ErrInvalidConfig.
type ConfigError struct {
	// Field names the Config field, e.g. "Bind" or "Join[1]".
	Field string
	// Problem says what is wrong with it.
	Problem string
}

func (e *ConfigError) Error() string { return "cluster: config " + e.Field + ": " + e.Problem }

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
