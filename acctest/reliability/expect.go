package reliability

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// The suite judges the controller against what the Terraform state says
// must be there, computed here from the resources' values with the rules
// the documentation states, never with the reconciler's own derivation.

// resource is one resource of the state, by type.
type resource struct {
	typ    string
	values map[string]any
}

func strs(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// want is the derived state a Terraform state implies.
type want struct {
	// policies by name: "<type> <semantic> <identity roles> -> <service roles>".
	policies map[string]string
	// roles: every identity of the state, by id, with its sorted wg. roles.
	roles map[string][]string
	// visible: each identity's endpoint names it must list (it dials or
	// hosts them), by identity id.
	visible map[string][]string
}

func expectFrom(resources []resource) want {
	w := want{policies: map[string]string{}, roles: map[string][]string{}, visible: map[string][]string{}}
	orgOf := map[string]string{}
	admits := map[string][]string{} // workgroup -> organisations
	required := map[string][]string{}
	for _, r := range resources {
		switch r.typ {
		case "agentmesh_identity":
			orgOf[str(r.values["id"])] = str(r.values["organization"])
			w.roles[str(r.values["id"])] = nil
		case "agentmesh_workgroup":
			admits[str(r.values["name"])] = append([]string{str(r.values["owner_organization"])}, strs(r.values["participating_organizations"])...)
		case "agentmesh_contract":
			required[str(r.values["name"])] = strs(r.values["required_workgroups"])
		}
	}
	for _, r := range resources {
		if r.typ != "agentmesh_workgroup_membership" {
			continue
		}
		id, wg := str(r.values["identity"]), str(r.values["workgroup"])
		if org := orgOf[id]; org != "" && slices.Contains(admits[wg], org) {
			w.roles[id] = append(w.roles[id], "wg."+wg)
		}
	}
	for id, roles := range w.roles {
		sort.Strings(roles)
		w.roles[id] = slices.Compact(roles)
	}
	for _, r := range resources {
		if r.typ != "agentmesh_endpoint" {
			continue
		}
		name, sid, host := str(r.values["name"]), str(r.values["id"]), str(r.values["host"])
		w.policies["agentmesh.bind."+name] = policyKey("Bind", "AnyOf", []string{"@" + host}, []string{"@" + sid})
		w.visible[host] = append(w.visible[host], name)
		req := required[str(r.values["contract"])]
		for _, scope := range strs(r.values["workgroups"]) {
			if _, ok := admits[scope]; !ok {
				continue
			}
			roles := []string{"#wg." + scope}
			for _, q := range req {
				roles = append(roles, "#wg."+q)
			}
			sort.Strings(roles)
			roles = slices.Compact(roles)
			w.policies["agentmesh.dial."+name+"."+scope] = policyKey("Dial", "AllOf", roles, []string{"@" + sid})
			for id, have := range w.roles {
				if containsAll(have, roles) && !slices.Contains(w.visible[id], name) {
					w.visible[id] = append(w.visible[id], name)
				}
			}
		}
	}
	for id := range w.visible {
		sort.Strings(w.visible[id])
	}
	return w
}

func containsAll(have, roles []string) bool {
	for _, r := range roles {
		if !slices.Contains(have, strings.TrimPrefix(r, "#")) {
			return false
		}
	}
	return true
}

func policyKey(typ, semantic string, identityRoles, serviceRoles []string) string {
	i, s := slices.Clone(identityRoles), slices.Clone(serviceRoles)
	sort.Strings(i)
	sort.Strings(s)
	return fmt.Sprintf("%s %s %v -> %v", typ, semantic, i, s)
}

// observed is what the controller holds, read straight from the
// management API.
type observed struct {
	policies map[string]string   // agentmesh service policies by name
	roles    map[string][]string // wg. roles by identity id
	// duplicates counts objects whose content another object of the same
	// owner already has: two policies granting the same thing, two configs
	// holding the same data under the same type.
	duplicates int
	dupKeys    []string
}

func observe(c *controller.Client, ids []string) (observed, error) {
	o := observed{policies: map[string]string{}, roles: map[string][]string{}}
	filter, limit := `tags.agentmesh_managed_by = "agentmesh"`, int64(500)
	pols, err := c.API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithFilter(&filter).WithLimit(&limit), nil)
	if err != nil {
		return o, err
	}
	seen := map[string]int{}
	for _, p := range pols.Payload.Data {
		key := policyKey(string(*p.Type), string(*p.Semantic), p.IdentityRoles, p.ServiceRoles)
		o.policies[*p.Name] = key
		seen["policy "+ownerOf(p.Tags)+" "+key]++
	}
	cfgs, err := c.API.Config.ListConfigs(config.NewListConfigsParams().WithFilter(&filter).WithLimit(&limit), nil)
	if err != nil {
		return o, err
	}
	for _, d := range cfgs.Payload.Data {
		b, _ := json.Marshal(d.Data)
		seen["config "+ownerOf(d.Tags)+" "+*d.ConfigTypeID+" "+string(b)]++
	}
	for key, n := range seen {
		o.duplicates += n - 1
		if n > 1 {
			o.dupKeys = append(o.dupKeys, key)
		}
	}
	for _, id := range ids {
		r, err := c.API.Identity.DetailIdentity(identity.NewDetailIdentityParams().WithID(id), nil)
		if err != nil {
			return o, err
		}
		var wg []string
		if r.Payload.Data.RoleAttributes != nil {
			for _, a := range *r.Payload.Data.RoleAttributes {
				if strings.HasPrefix(a, "wg.") {
					wg = append(wg, a)
				}
			}
		}
		sort.Strings(wg)
		o.roles[id] = wg
	}
	return o, nil
}

// differences lists where the controller departs from the state.
func (w want) differences(o observed) []string {
	var out []string
	for name, p := range w.policies {
		if o.policies[name] != p {
			out = append(out, fmt.Sprintf("policy %s is %q, want %q", name, o.policies[name], p))
		}
	}
	for name := range o.policies {
		if _, ok := w.policies[name]; !ok {
			out = append(out, "policy "+name+" is not implied by the state")
		}
	}
	for id, roles := range w.roles {
		if !slices.Equal(o.roles[id], roles) {
			out = append(out, fmt.Sprintf("identity %s has roles %v, want %v", id, o.roles[id], roles))
		}
	}
	sort.Strings(out)
	return out
}

// accessMatrix enrolls every identity of the state (once per workspace)
// and compares the endpoints each one lists, through sdk-golang, with what
// the state implies. It returns the mismatches.
func (e *env) accessMatrix(resources []resource, w want, endpoints []string) ([]string, error) {
	var out []string
	for _, r := range resources {
		if r.typ != "agentmesh_identity" {
			continue
		}
		id := str(r.values["id"])
		cfg, err := e.enrolledConfig(id, str(r.values["enrollment_jwt"]))
		if err != nil {
			return nil, err
		}
		if cfg == nil {
			continue // enrolled elsewhere: its certificate is not ours
		}
		listed, err := acctest.ServicesAs(cfg)
		if err != nil {
			return nil, err
		}
		var got []string
		for _, ep := range endpoints {
			if _, ok := listed[ep]; ok {
				got = append(got, ep)
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, w.visible[id]) {
			out = append(out, fmt.Sprintf("%s lists %v, want %v", str(r.values["name"]), got, w.visible[id]))
		}
	}
	return out, nil
}

// enrolledConfig enrolls an identity the first time and keeps its config.
func (e *env) enrolledConfig(id, jwt string) (*ziti.Config, error) {
	e.mu.Lock()
	cfg, ok := e.enrolled[id]
	e.mu.Unlock()
	if ok || jwt == "" {
		return cfg, nil
	}
	_, cfg, err := acctest.Enroll(jwt, e.dir, "rel-"+id)
	if err != nil {
		return nil, fmt.Errorf("enrolling %s: %w", id, err)
	}
	e.mu.Lock()
	e.enrolled[id] = cfg
	e.mu.Unlock()
	return cfg, nil
}

// ownerOf is the intent a derived object serves ("" for intents).
func ownerOf(t *rest_model.Tags) string {
	if t == nil || t.SubTags["agentmesh_owner"] == nil {
		return ""
	}
	return fmt.Sprint(t.SubTags["agentmesh_owner"])
}
