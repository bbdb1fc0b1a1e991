package reconciler

import (
	"github.com/agentmesh/agentmesh/reconciler/derive"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

// The engine's callers (the provider, the CLI, tests) speak in intent and
// derivation terms through these names; the pure packages hold them.

// Intent.
type (
	Identity         = intent.Identity
	ObservedIdentity = intent.ObservedIdentity
	Workgroup        = intent.Workgroup
	Membership       = intent.Membership
	Contract         = intent.Contract
	Capability       = intent.Capability
	Endpoint         = intent.Endpoint
	Intercept        = intent.Intercept
	HostAddress      = intent.HostAddress
	Gateway          = intent.Gateway
	SemanticRouting  = intent.SemanticRouting
	MCPAggregator    = intent.MCPAggregator
	HostedProvider   = intent.HostedProvider
	LLMRoute         = intent.LLMRoute
	MCPRoute         = intent.MCPRoute
	Heuristic        = intent.Heuristic
)

// Stored is an intent object read back from the controller.
type Stored[T any] = intent.Stored[T]

// Identity kinds and reserved names.
const (
	KindAgent         = intent.KindAgent
	KindGateway       = intent.KindGateway
	KindUser          = intent.KindUser
	KindService       = intent.KindService
	TagManagedBy      = intent.TagManagedBy
	TagManagedValue   = intent.TagManagedValue
	TagKind           = intent.TagKind
	TagOrganization   = intent.TagOrganization
	ReservedTagPrefix = intent.ReservedTagPrefix
	MaxNameLength     = intent.MaxNameLength
)

// Vocabulary and validation.
var (
	ErrInvalidIntent      = intent.ErrInvalidIntent
	ErrNameTaken          = intent.ErrNameTaken
	Kinds                 = intent.Kinds
	ReservedRolePrefixes  = intent.ReservedRolePrefixes
	MembershipRoles       = intent.MembershipRoles
	AccessModes           = intent.AccessModes
	InteractionPatterns   = intent.InteractionPatterns
	Protocols             = intent.Protocols
	Hostings              = intent.Hostings
	UnenforcedTerms       = intent.UnenforcedTerms
	ValidateName          = intent.ValidateName
	ValidateMessageType   = intent.ValidateMessageType
	ValidateOrganization  = intent.ValidateOrganization
	ValidateKind          = intent.ValidateKind
	ValidateRoleAttribute = intent.ValidateRoleAttribute
	ValidateTagKey        = intent.ValidateTagKey
	ValidateWorkgroupName = intent.ValidateWorkgroupName
	ProviderSecret        = intent.ProviderSecret
)

// Derivation.
type (
	Network          = derive.Network
	Desired          = derive.Desired
	PolicySpec       = derive.PolicySpec
	ObservedConfig   = derive.ObservedConfig
	DerivedConfig    = derive.DerivedConfig
	ObservedEndpoint = derive.ObservedEndpoint
	GatewayService   = derive.GatewayService
	DarkService      = derive.DarkService
	Grant            = derive.Grant
)

// Names of derived objects.
const (
	EndpointRole           = derive.EndpointRole
	RouterPolicyIdentities = derive.RouterPolicyIdentities
	RouterPolicyEndpoints  = derive.RouterPolicyEndpoints
)

var (
	Derive              = derive.Derive
	Access              = derive.Access
	DataPlaneService    = derive.DataPlaneService
	MCPDataPlaneService = derive.MCPDataPlaneService
	DataPlaneServiceOf  = derive.DataPlaneServiceOf
	ControlService      = derive.ControlService
)
