package intent

import "time"

// Stored is an intent object read back from the controller.
type Stored[T any] struct {
	ID      string
	Name    string // the config's name
	Managed bool
	Value   T
}

// ObservedIdentity is an identity as the controller holds it, in intent
// terms: reserved role attributes and ownership tags are split off.
type ObservedIdentity struct {
	ID string
	Identity
	// Managed says the object carries agentmesh's ownership tags.
	Managed bool
	// Reserved holds the reconciler-owned role attributes (org.*, wg.*).
	Reserved []string

	EnrollmentJWT       string
	EnrollmentExpiresAt time.Time
	Enrolled            bool
}
