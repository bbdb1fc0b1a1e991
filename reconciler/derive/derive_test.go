package derive

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/reconciler/intent"
)

// net builds a network from a compact description, for derivation tests.
type netBuilder struct{ n *Network }

func newNet() *netBuilder {
	return &netBuilder{&Network{Identities: map[string]*intent.ObservedIdentity{}, Workgroups: map[string]*intent.Stored[intent.Workgroup]{},
		Contracts: map[string]*intent.Stored[intent.Contract]{}, Endpoints: map[string]*ObservedEndpoint{}, Policies: map[string]PolicySpec{}}}
}

func (b *netBuilder) identity(id, org string) *netBuilder {
	b.n.Identities[id] = &intent.ObservedIdentity{ID: id, Identity: intent.Identity{Name: id, Organization: org}}
	return b
}

func (b *netBuilder) workgroup(name, owner string, parts ...string) *netBuilder {
	b.n.Workgroups[name] = &intent.Stored[intent.Workgroup]{ID: "cfg-" + name, Value: intent.Workgroup{Name: name, OwnerOrganization: owner, ParticipatingOrganizations: parts}}
	return b
}

func (b *netBuilder) member(wg, id string) *netBuilder {
	b.n.Memberships = append(b.n.Memberships, &intent.Stored[intent.Membership]{Name: wg + "." + id, Value: intent.Membership{Workgroup: wg, Identity: id, Role: "member"}})
	return b
}

func (b *netBuilder) contract(name string, required ...string) *netBuilder {
	b.n.Contracts[name] = &intent.Stored[intent.Contract]{ID: "cfg-" + name, Name: "agentmesh.contract." + name, Value: intent.Contract{Name: name, RequiredWorkgroups: required}}
	return b
}

func (b *netBuilder) endpoint(sid, host, contract string, scopes ...string) *netBuilder {
	b.n.Endpoints[sid] = &ObservedEndpoint{ServiceID: sid, Endpoint: intent.Endpoint{Name: sid, Host: host, Contract: contract, Workgroups: scopes}}
	return b
}

// approvalRequired makes a contract approval_required.
func (b *netBuilder) approvalRequired(contract string) *netBuilder {
	b.n.Contracts[contract].Value.AccessMode = "approval_required"
	return b
}

// approval approves consumer for endpoint sid, by org, until expires
// (RFC 3339, or "" for no expiry).
func (b *netBuilder) approval(sid, consumer, org, expires string) *netBuilder {
	id := fmt.Sprintf("ap%d", len(b.n.Approvals))
	b.n.Approvals = append(b.n.Approvals, &intent.Stored[intent.Approval]{ID: id, Name: "agentmesh.approval." + sid + "." + consumer,
		Value: intent.Approval{Endpoint: sid, Consumer: consumer, Organization: org, ExpiresAt: expires}})
	return b
}

// at sets the time the network is observed.
func (b *netBuilder) at(rfc3339 string) *netBuilder {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		panic(err)
	}
	b.n.Now = t
	return b
}

// dialers evaluates the derived policies: who may dial what.
func dialers(b *netBuilder) string {
	d := Derive(b.n)
	roles := map[string][]string{}
	for id := range b.n.Identities {
		roles[id] = d.Roles[id]
	}
	services := map[string]bool{}
	for sid := range b.n.Endpoints {
		services[sid] = true
	}
	var out []string
	for g := range Access(d.Policies, roles, services) {
		out = append(out, g.Identity+">"+g.Service)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestDeriveAccess(t *testing.T) {
	cases := []struct {
		name string
		net  *netBuilder
		want string
	}{
		{"scope members dial", newNet().identity("a", "m").identity("b", "m").identity("x", "s").
			workgroup("ch", "m").member("ch", "a").member("ch", "b").contract("c").endpoint("ep", "a", "c", "ch"),
			"a>ep b>ep"},
		{"several scopes are a union", newNet().identity("a", "m").identity("b", "s").
			workgroup("w1", "m").workgroup("w2", "s").member("w1", "a").member("w2", "b").contract("c").endpoint("ep", "a", "c", "w1", "w2"),
			"a>ep b>ep"},
		{"required workgroups intersect", newNet().identity("a", "m").identity("b", "m").
			workgroup("ch", "m").workgroup("vetted", "m").member("ch", "a").member("ch", "b").member("vetted", "b").
			contract("c", "vetted").endpoint("ep", "a", "c", "ch"),
			"b>ep"},
		{"membership of a non-participating organisation grants nothing", newNet().identity("a", "m").identity("x", "s").
			workgroup("ch", "m").member("ch", "a").member("ch", "x").contract("c").endpoint("ep", "a", "c", "ch"),
			"a>ep"},
		{"participants may join", newNet().identity("a", "m").identity("p", "client").
			workgroup("ch", "m", "client").member("ch", "a").member("ch", "p").contract("c").endpoint("ep", "a", "c", "ch"),
			"a>ep p>ep"},
		{"missing contract: nobody dials", newNet().identity("a", "m").
			workgroup("ch", "m").member("ch", "a").endpoint("ep", "a", "nope", "ch"),
			""},
		{"missing required workgroup: nobody qualifies", newNet().identity("a", "m").
			workgroup("ch", "m").member("ch", "a").contract("c", "ghost").endpoint("ep", "a", "c", "ch"),
			""},
		{"missing scope grants nothing", newNet().identity("a", "m").
			workgroup("ch", "m").member("ch", "a").contract("c").endpoint("ep", "a", "c", "ghost"),
			""},
	}
	gated := func() *netBuilder {
		return newNet().identity("h", "m").identity("b", "m").identity("c", "m").identity("x", "m").
			workgroup("ch", "m").workgroup("vetted", "m").member("ch", "h").member("ch", "b").member("ch", "c").
			contract("gate").approvalRequired("gate").endpoint("ep", "h", "gate", "ch").at("2026-12-02T12:00:00Z")
	}
	cases = append(cases, []struct {
		name string
		net  *netBuilder
		want string
	}{
		{"approval required, none given: nobody dials, not even members", gated(), ""},
		{"approved members dial, unapproved members do not", gated().approval("ep", "b", "m", ""), "b>ep"},
		{"an approval adds no reach outside the scope", gated().approval("ep", "x", "m", ""), ""},
		{"an approval before its expiry grants", gated().approval("ep", "b", "m", "2026-12-02T12:00:01Z"), "b>ep"},
		{"a lapsed approval grants nothing", gated().approval("ep", "b", "m", "2026-12-02T12:00:00Z").approval("ep", "c", "m", ""), "c>ep"},
		{"another organisation's approval grants nothing", gated().approval("ep", "b", "other", ""), ""},
		{"an approval of a missing identity grants nothing", gated().approval("ep", "ghost", "m", ""), ""},
		{"an approval for an endpoint whose host is gone grants nothing", func() *netBuilder {
			b := gated().approval("ep", "b", "m", "")
			delete(b.n.Identities, "h")
			return b
		}(), ""},
		{"required workgroups still apply to approved consumers", func() *netBuilder {
			b := gated().approval("ep", "b", "m", "").approval("ep", "c", "m", "").member("vetted", "c")
			b.n.Contracts["gate"].Value.RequiredWorkgroups = []string{"vetted"}
			return b
		}(), "c>ep"},
		{"under an open contract an approval changes nothing", newNet().identity("h", "m").identity("b", "m").identity("c", "m").
			workgroup("ch", "m").member("ch", "b").member("ch", "c").contract("open").endpoint("ep", "h", "open", "ch").approval("ep", "b", "m", ""),
			"b>ep c>ep"},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := dialers(tc.net); got != tc.want {
				t.Fatalf("dialers %q, want %q (problems %v)", got, tc.want, Derive(tc.net.n).Problems)
			}
		})
	}
}

func TestDerivePoliciesAndConfigs(t *testing.T) {
	b := newNet().identity("a", "m").workgroup("ch", "m").workgroup("v", "m").member("ch", "a").contract("c", "v").endpoint("ep", "a", "c", "ch")
	b.n.Endpoints["ep"].Intercept = &intent.Intercept{Protocols: []string{"udp", "tcp"}, Addresses: []string{"ep.ziti"}, Port: 443}
	d := Derive(b.n)
	dial := d.Policies["agentmesh.dial.ep.ch"]
	if dial.Type != "Dial" || dial.Semantic != "AllOf" || fmt.Sprint(dial.IdentityRoles) != "[#wg.ch #wg.v]" || fmt.Sprint(dial.ServiceRoles) != "[@ep]" {
		t.Fatalf("dial policy %+v", dial)
	}
	bind := d.Policies["agentmesh.bind.ep"]
	if bind.Type != "Bind" || fmt.Sprint(bind.IdentityRoles) != "[@a]" {
		t.Fatalf("bind policy %+v", bind)
	}
	if got := fmt.Sprint(d.ServiceConfigs["ep"]); got != "[agentmesh.contract.c agentmesh.endpoint.ep agentmesh.intercept.ep]" {
		t.Fatalf("service configs %s", got)
	}
	ic := d.Configs["agentmesh.intercept.ep"]
	if fmt.Sprint(ic.Data["protocols"]) != "[tcp udp]" || ic.Owner != "endpoint/ep" {
		t.Fatalf("intercept config %+v", ic)
	}
	if fmt.Sprint(d.Roles["a"]) != "[wg.ch]" {
		t.Fatalf("roles %v", d.Roles)
	}
}

func TestDeriveApprovalsReportWhyTheyGrantNothing(t *testing.T) {
	b := newNet().identity("h", "m").identity("b", "m").workgroup("ch", "m").member("ch", "b").
		contract("gate").approvalRequired("gate").contract("open").endpoint("ep", "h", "gate", "ch").endpoint("free", "h", "open", "ch").
		at("2026-12-02T12:00:00Z").
		approval("ep", "b", "other", "").approval("ep", "b", "m", "2026-01-01T00:00:00Z").approval("free", "b", "m", "").
		approval("gone", "b", "m", "").approval("ep", "ghost", "m", "")
	d := Derive(b.n)
	got := strings.Join(d.Problems, "\n")
	for _, want := range []string{
		`organisation "other" does not own the endpoint (its host belongs to "m")`,
		`lapsed at 2026-01-01T00:00:00Z`,
		`its contract "open" is open, so the approval changes nothing`,
		`endpoint gone does not exist`,
		`approval of ghost for endpoint "ep": the identity does not exist`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

func TestDeriveApprovalPolicy(t *testing.T) {
	b := newNet().identity("h", "m").identity("b", "m").identity("c", "m").workgroup("ch", "m").workgroup("v", "m").member("ch", "b").
		contract("gate", "v").approvalRequired("gate").endpoint("ep", "h", "gate", "ch").approval("ep", "b", "m", "").approval("ep", "c", "m", "2020-01-01T00:00:00Z").
		at("2026-12-02T12:00:00Z")
	d := Derive(b.n)
	p := d.Policies["agentmesh.dial.ep.ch"]
	if p.Type != "Dial" || p.Semantic != "AllOf" || fmt.Sprint(p.IdentityRoles) != "[#agentmesh.approved.ep #wg.ch #wg.v]" || fmt.Sprint(p.ServiceRoles) != "[@ep]" || p.Owner != "endpoint/ep" {
		t.Fatalf("dial policy %+v", p)
	}
	if got := fmt.Sprint(d.Roles["b"]); got != "[agentmesh.approved.ep wg.ch]" {
		t.Fatalf("approved consumer's roles %s", got)
	}
	if got := d.Roles["c"]; len(got) != 0 {
		t.Fatalf("a lapsed approval left roles %v", got)
	}
	for _, r := range []string{"wg.ch", "agentmesh.approved.ep"} {
		if !IsDerivedRole(r) {
			t.Errorf("%s is not a derived role", r)
		}
	}
	if IsDerivedRole("agentmesh.other") || IsDerivedRole("org.m") {
		t.Error("a role the derivation does not write counts as derived")
	}
}

// FuzzDerive checks derivation invariants on arbitrary small networks: it
// never panics, is deterministic, and never grants access to an identity
// outside every scope of an endpoint.
func FuzzDerive(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte("markets-co signals-co enterprise-client"))
	f.Fuzz(func(t *testing.T, seed []byte) {
		if len(seed) == 0 {
			return
		}
		at := func(i int) int { return int(seed[i%len(seed)]) }
		orgs := []string{"o0", "o1", "o2"}
		b := newNet()
		for i := 0; i < 4; i++ {
			b.identity(fmt.Sprintf("i%d", i), orgs[at(i)%3])
		}
		for w := 0; w < 3; w++ {
			var parts []string
			if at(10+w)%2 == 0 {
				parts = []string{orgs[(w+1)%3]}
			}
			b.workgroup(fmt.Sprintf("w%d", w), orgs[w], parts...)
		}
		for k := 0; k < at(20)%8; k++ {
			b.member(fmt.Sprintf("w%d", at(21+k)%4), fmt.Sprintf("i%d", at(30+k)%5))
		}
		b.contract("c", []string{"", "w1"}[at(40)%2:][0:at(40)%2]...)
		for e := 0; e < at(41)%3; e++ {
			b.endpoint(fmt.Sprintf("e%d", e), fmt.Sprintf("i%d", at(42+e)%4), []string{"c", "nope"}[at(45+e)%2], fmt.Sprintf("w%d", at(48+e)%4))
		}
		first, second := Derive(b.n), Derive(b.n)
		if fmt.Sprint(first.Policies) != fmt.Sprint(second.Policies) || fmt.Sprint(first.Roles) != fmt.Sprint(second.Roles) {
			t.Fatal("derivation is not deterministic")
		}
		roles := map[string][]string{}
		for id := range b.n.Identities {
			roles[id] = first.Roles[id]
		}
		services := map[string]bool{}
		for sid := range b.n.Endpoints {
			services[sid] = true
		}
		for g := range Access(first.Policies, roles, services) {
			ep := b.n.Endpoints[g.Service]
			inScope := false
			for _, s := range ep.Workgroups {
				for _, r := range roles[g.Identity] {
					if r == "wg."+s {
						inScope = true
					}
				}
			}
			if !inScope {
				t.Fatalf("%s may dial %s without being in any of its scopes %v", g.Identity, g.Service, ep.Workgroups)
			}
			id := b.n.Identities[g.Identity]
			for _, r := range roles[g.Identity] {
				wg := b.n.Workgroups[strings.TrimPrefix(r, "wg.")]
				if wg == nil || !wg.Value.Admits(id.Organization) {
					t.Fatalf("%s holds %s without its organisation taking part", g.Identity, r)
				}
			}
		}
	})
}
