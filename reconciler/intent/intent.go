// Package intent holds what users declare: identities, workgroups,
// memberships, contracts, endpoints, gateways and their routes, with the
// rules that make each one valid. It is pure: nothing here talks to a
// controller, so its tests run without one.
package intent

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidIntent is terminal: retrying cannot help; the declaration must
// change.
var ErrInvalidIntent = errors.New("invalid intent")

// ErrNameTaken means an object of the same name exists that agentmesh does
// not own. It is never adopted silently.
var ErrNameTaken = errors.New("name already taken by an object agentmesh does not manage")

// Identity kinds as users declare them.
const (
	KindAgent   = "agent"
	KindGateway = "gateway"
	KindUser    = "user"
	KindService = "service"
)

// Kinds lists the valid identity kinds, in documentation order.
var Kinds = []string{KindAgent, KindGateway, KindUser, KindService}

// ReservedRolePrefixes are role-attribute prefixes only the reconciler
// writes: organisation and workgroup membership become policy roles, so a
// user-declared attribute must never be able to grant them.
var ReservedRolePrefixes = []string{"org.", "wg.", "agentmesh."}

// Ownership tags. Keys contain no dots: the controller's filter language
// reads a dot as a path separator, and reads must filter on these keys.
const (
	TagManagedBy    = "agentmesh_managed_by"
	TagManagedValue = "agentmesh"
	TagKind         = "agentmesh_kind"
	TagOrganization = "agentmesh_organization"
)

// ReservedTagPrefix marks tag keys users may not set.
const ReservedTagPrefix = "agentmesh_"

// MaxNameLength bounds names; the controller accepts longer, but names
// become role attributes and log fields, and nobody needs more.
const MaxNameLength = 128

var orgPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ValidateName checks an object name.
func ValidateName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("must not be empty")
	case name != strings.TrimSpace(name):
		return errors.New("must not start or end with white space")
	case !utf8.ValidString(name):
		return errors.New("must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLength:
		return fmt.Errorf("must be at most %d characters, got %d", MaxNameLength, utf8.RuneCountInString(name))
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("must not contain control or format characters (found %U)", r)
		}
		if !nameRune(r) {
			return fmt.Errorf("must use only letters, digits, spaces and - _ . : @ + (found %q)", r)
		}
	}
	return nil
}

// nameRune reports whether r may appear in a name: letters and digits of
// any script, space, and - _ . : @ +. Quotes, shell, path and selector
// metacharacters are refused, so a name never reads as code in a log line,
// a controller filter or a shell.
func nameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" -_.:@+", r)
}

// ValidateMessageType checks one allowed message type: `*` or a name.
func ValidateMessageType(t string) error {
	if t == "*" {
		return nil
	}
	return ValidateName(t)
}

// ValidateOrganization checks an organisation name. It becomes the role
// attribute org.<name>, so it is a lower-case DNS-style label.
func ValidateOrganization(org string) error {
	if org == "" {
		return nil
	}
	if len(org) > 63 || !orgPattern.MatchString(org) {
		return fmt.Errorf("%q must be 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit", org)
	}
	return nil
}

// ValidateKind checks an identity kind.
func ValidateKind(kind string) error {
	for _, k := range Kinds {
		if kind == k {
			return nil
		}
	}
	return fmt.Errorf("%q is not a kind; use one of %s", kind, strings.Join(Kinds, ", "))
}

// ValidateRoleAttribute checks one user-declared role attribute.
func ValidateRoleAttribute(attr string) error {
	if err := ValidateName(attr); err != nil {
		return err
	}
	if strings.HasPrefix(attr, "@") {
		return fmt.Errorf("%q must not start with '#' or '@': those mark role and id selectors in Ziti policies", attr)
	}
	for _, p := range ReservedRolePrefixes {
		if strings.HasPrefix(strings.ToLower(attr), p) {
			return fmt.Errorf("%q uses the reserved prefix %q; agentmesh derives those from organization and workgroup memberships", attr, p)
		}
	}
	return nil
}

// ValidateTagKey checks one user tag key.
func ValidateTagKey(key string) error {
	if err := ValidateName(key); err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(key), ReservedTagPrefix) {
		return fmt.Errorf("%q uses the reserved prefix %q; agentmesh keeps its ownership tags there", key, ReservedTagPrefix)
	}
	return nil
}

// Identity is the declared intent for one Ziti identity.
type Identity struct {
	Name           string
	Organization   string
	Kind           string
	RoleAttributes []string
	// AuthPolicyID is the auth policy's id; empty means the controller's
	// "default" policy.
	AuthPolicyID string
	Disabled     bool
	Tags         map[string]string
}

// Validate reports every problem with the intent, each naming its field.
func (i *Identity) Validate() error {
	var errs []error
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
	}
	add("name", ValidateName(i.Name))
	add("organization", ValidateOrganization(i.Organization))
	add("kind", ValidateKind(i.Kind))
	for _, a := range i.RoleAttributes {
		add("role_attributes", ValidateRoleAttribute(a))
	}
	for k := range i.Tags {
		add("tags", ValidateTagKey(k))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidIntent, errors.Join(errs...))
}
