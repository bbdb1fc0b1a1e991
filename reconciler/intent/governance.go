package intent

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Workgroup decides who can see whom: its members hold the role
// wg.<name>, and endpoints scoped to it are dialable by those members only.
type Workgroup struct {
	Name                       string   `json:"name"`
	Description                string   `json:"description,omitempty"`
	OwnerOrganization          string   `json:"owner_organization"`
	ParticipatingOrganizations []string `json:"participating_organizations,omitempty"`
}

// Membership puts one identity into one workgroup. Each organisation
// declares its own members, so memberships are separate objects rather
// than a list on the workgroup.
type Membership struct {
	Workgroup string `json:"workgroup"`
	Identity  string `json:"identity"` // identity id
	Role      string `json:"role"`     // member | admin
}

// Contract holds the terms of sessions with an endpoint; which of them
// are enforced, and by what, depends on the endpoint (UnenforcedTerms).
type Contract struct {
	Name                string   `json:"name"`
	OwnerOrganization   string   `json:"owner_organization"`
	Description         string   `json:"description,omitempty"`
	MaxDurationSeconds  int64    `json:"max_duration_seconds"`
	MaxMessageCount     int64    `json:"max_message_count"`
	MaxMessageBytes     int64    `json:"max_message_bytes"`
	AllowedMessageTypes []string `json:"allowed_message_types"`
	RequiredWorkgroups  []string `json:"required_workgroups"`
	AccessMode          string   `json:"access_mode"`
}

// Capability is one thing an endpoint offers.
type Capability struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Endpoint is an agent's dark service (Agora's advertisement): hosted by
// one identity, visible only inside its workgroup scopes, bound by a
// contract.
type Endpoint struct {
	Name                string       `json:"name"`
	Host                string       `json:"host"` // identity id
	Workgroups          []string     `json:"workgroups"`
	Contract            string       `json:"contract"`
	Description         string       `json:"description,omitempty"`
	Capabilities        []Capability `json:"capabilities,omitempty"`
	InteractionPatterns []string     `json:"interaction_patterns,omitempty"`
	// Intercept and HostAddress address tunnelled traffic: tunnellers of
	// authorised dialers intercept the addresses, and the host's tunneller
	// forwards to HostAddress. Both are optional.
	Intercept   *Intercept   `json:"intercept,omitempty"`
	HostAddress *HostAddress `json:"host_address,omitempty"`
	// Hosting says how the host serves the endpoint: "guarded" behind
	// agentmesh endpoint-guard, which enforces the contract's session
	// terms, or "direct" (also when empty), where nothing does.
	Hosting string `json:"hosting,omitempty"`
}

// Hostings an endpoint may declare.
var Hostings = []string{"direct", "guarded"}

// UnenforcedTerms are the contract's session terms that an endpoint
// hosted this way leaves unenforced, by attribute name. The network
// enforces required_workgroups and access_mode everywhere; the session
// terms only a guard enforces.
func UnenforcedTerms(c *Contract, hosting string) []string {
	if hosting == "guarded" {
		return nil
	}
	var out []string
	if c.MaxDurationSeconds > 0 {
		out = append(out, "max_duration_seconds")
	}
	if c.MaxMessageCount > 0 {
		out = append(out, "max_message_count")
	}
	if c.MaxMessageBytes > 0 {
		out = append(out, "max_message_bytes")
	}
	if !slices.Contains(c.AllowedMessageTypes, "*") { // an empty set allows no message at all
		out = append(out, "allowed_message_types")
	}
	return out
}

// Intercept is what a dialer's tunneller captures for an endpoint.
type Intercept struct {
	Protocols []string `json:"protocols"`
	Addresses []string `json:"addresses"`
	Port      int64    `json:"port"`
}

// HostAddress is where the host's tunneller forwards an endpoint's traffic.
type HostAddress struct {
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	Port     int64  `json:"port"`
}

// Protocols a tunnel can carry.
var Protocols = []string{"tcp", "udp"}

func validPort(p int64) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("must be a port between 1 and 65535, got %d", p)
	}
	return nil
}

func validAddress(a string) error {
	if a == "" || strings.ContainsAny(a, " \t\n\r\"'") {
		return fmt.Errorf("%q is not a host name, IP address or CIDR", a)
	}
	return nil
}

// Vocabulary.
var (
	MembershipRoles     = []string{"member", "admin"}
	AccessModes         = []string{"open", "approval_required"}
	InteractionPatterns = []string{"request-response", "stream", "broadcast", "custom"}
)

// FieldErrs collects one error per invalid field; Err joins them as an
// ErrInvalidIntent.
type FieldErrs []error

// Add records err against field, if it is not nil.
func (f *FieldErrs) Add(field string, err error) {
	if err != nil {
		*f = append(*f, fmt.Errorf("%s: %w", field, err))
	}
}

// Err is nil when no field was invalid.
func (f FieldErrs) Err() error {
	if len(f) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidIntent, errors.Join(f...))
}

func oneOf(v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

func requiredOrg(org string) error {
	if org == "" {
		return errors.New("must not be empty")
	}
	return ValidateOrganization(org)
}

// ValidateWorkgroupName checks a workgroup name. It becomes the role
// attribute wg.<name>, so it is a DNS-style label like organisations.
func ValidateWorkgroupName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	return ValidateOrganization(name)
}

// Validate checks a workgroup.
func (w *Workgroup) Validate() error {
	var f FieldErrs
	f.Add("name", ValidateWorkgroupName(w.Name))
	f.Add("owner_organization", requiredOrg(w.OwnerOrganization))
	for _, o := range w.ParticipatingOrganizations {
		f.Add("participating_organizations", requiredOrg(o))
		if o == w.OwnerOrganization {
			f.Add("participating_organizations", fmt.Errorf("%q is the owner; list only other organisations", o))
		}
	}
	return f.Err()
}

// Admits reports whether members of org may join.
func (w *Workgroup) Admits(org string) bool {
	return org != "" && (org == w.OwnerOrganization || slices.Contains(w.ParticipatingOrganizations, org))
}

// Validate checks a membership.
func (m *Membership) Validate() error {
	var f FieldErrs
	f.Add("workgroup", ValidateWorkgroupName(m.Workgroup))
	if m.Identity == "" {
		f.Add("identity", errors.New("must not be empty"))
	}
	f.Add("role", oneOf(m.Role, MembershipRoles))
	return f.Err()
}

// Validate checks a contract.
func (c *Contract) Validate() error {
	var f FieldErrs
	f.Add("name", ValidateWorkgroupName(c.Name))
	f.Add("owner_organization", requiredOrg(c.OwnerOrganization))
	for field, v := range map[string]int64{"max_duration_seconds": c.MaxDurationSeconds, "max_message_count": c.MaxMessageCount, "max_message_bytes": c.MaxMessageBytes} {
		if v < 0 {
			f.Add(field, fmt.Errorf("must be 0 (no cap) or positive, got %d", v))
		}
	}
	for _, t := range c.AllowedMessageTypes {
		f.Add("allowed_message_types", ValidateMessageType(t))
	}
	for _, w := range c.RequiredWorkgroups {
		f.Add("required_workgroups", ValidateWorkgroupName(w))
	}
	f.Add("access_mode", oneOf(c.AccessMode, AccessModes))
	return f.Err()
}

// Validate checks an endpoint on its own; references are checked against
// the network by the engine.
func (e *Endpoint) Validate() error {
	var f FieldErrs
	f.Add("name", ValidateName(e.Name))
	if e.Host == "" {
		f.Add("host", errors.New("must not be empty"))
	}
	if len(e.Workgroups) == 0 {
		f.Add("workgroups", errors.New("must name at least one workgroup: an endpoint without a scope is visible to nobody"))
	}
	for _, w := range e.Workgroups {
		f.Add("workgroups", ValidateWorkgroupName(w))
	}
	f.Add("contract", ValidateWorkgroupName(e.Contract))
	for _, c := range e.Capabilities {
		f.Add("capabilities.name", ValidateName(c.Name))
	}
	for _, p := range e.InteractionPatterns {
		f.Add("interaction_patterns", oneOf(p, InteractionPatterns))
	}
	if i := e.Intercept; i != nil {
		if len(i.Protocols) == 0 {
			f.Add("intercept.protocols", errors.New("must name tcp, udp or both"))
		}
		for _, p := range i.Protocols {
			f.Add("intercept.protocols", oneOf(p, Protocols))
		}
		if len(i.Addresses) == 0 {
			f.Add("intercept.addresses", errors.New("must name at least one address"))
		}
		for _, a := range i.Addresses {
			f.Add("intercept.addresses", validAddress(a))
		}
		f.Add("intercept.port", validPort(i.Port))
	}
	if e.Hosting != "" {
		f.Add("hosting", oneOf(e.Hosting, Hostings))
	}
	if h := e.HostAddress; h != nil {
		f.Add("host_address.protocol", oneOf(h.Protocol, Protocols))
		f.Add("host_address.address", validAddress(h.Address))
		f.Add("host_address.port", validPort(h.Port))
	}
	return f.Err()
}

// Approval lets one consumer identity reach one endpoint whose contract
// is approval_required. It is granted by the organisation that owns the
// endpoint (its host's), and lapses at ExpiresAt when one is set. It adds
// no reach of its own: the consumer must still be in one of the
// endpoint's workgroups and in every workgroup the contract requires.
type Approval struct {
	Endpoint     string `json:"endpoint"`     // endpoint service id
	Consumer     string `json:"consumer"`     // identity id
	Organization string `json:"organization"` // the approving organisation
	// ExpiresAt is RFC 3339; empty for an approval that does not lapse.
	ExpiresAt string `json:"expires_at,omitempty"`
}

// Expiry is when the approval lapses, zero when it does not.
func (a *Approval) Expiry() (time.Time, error) {
	if a.ExpiresAt == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, a.ExpiresAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, for example 2027-01-31T18:00:00Z", a.ExpiresAt)
	}
	return t, nil
}

// ActiveAt says whether the approval grants anything at now.
func (a *Approval) ActiveAt(now time.Time) bool {
	t, err := a.Expiry()
	return err == nil && (t.IsZero() || now.Before(t))
}

// Validate checks an approval on its own; the endpoint, the consumer and
// the organisation are checked against the network by the engine.
func (a *Approval) Validate() error {
	var f FieldErrs
	if a.Endpoint == "" {
		f.Add("endpoint", errors.New("must not be empty"))
	}
	if a.Consumer == "" {
		f.Add("consumer", errors.New("must not be empty"))
	}
	f.Add("organization", requiredOrg(a.Organization))
	_, err := a.Expiry()
	f.Add("expires_at", err)
	return f.Err()
}

// ValidateNewExpiry checks an expiry being set now: it must lie ahead.
func ValidateNewExpiry(expiresAt string, now time.Time) error {
	a := Approval{ExpiresAt: expiresAt}
	t, err := a.Expiry()
	if err != nil {
		return err
	}
	if !t.IsZero() && !now.Before(t) {
		return fmt.Errorf("%s is not in the future (now %s): an approval that has already lapsed grants nothing", expiresAt, now.UTC().Format(time.RFC3339))
	}
	return nil
}
