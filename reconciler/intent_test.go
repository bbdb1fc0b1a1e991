package reconciler

import (
	"fmt"
	"testing"

	"github.com/openziti/edge-api/rest_model"
)

func TestDesiredRolesKeepsReconcilerOwnedRoles(t *testing.T) {
	in := &Identity{Organization: "new-org", RoleAttributes: []string{"b", "a"}}
	got := desiredRoles(in, []string{"wg.macro", "org.old-org", "stale-user-attr"})
	if fmt.Sprint(got) != "[a b org.new-org wg.macro]" {
		t.Fatalf("got %v", got)
	}
}

func TestObserveIdentitySplitsReservedState(t *testing.T) {
	d := &rest_model.IdentityDetail{
		BaseEntity: rest_model.BaseEntity{ID: ptr("id1"), Tags: &rest_model.Tags{SubTags: rest_model.SubTags{
			TagManagedBy: TagManagedValue, TagKind: KindGateway, TagOrganization: "macro-co", "team": "x", "n": 3,
		}}},
		Name:           ptr("gw"),
		RoleAttributes: &rest_model.Attributes{"z", "wg.g", "org.macro-co", "a"},
		TypeID:         ptr("Service"),
	}
	o := observeIdentity(d)
	if !o.Managed || o.Kind != KindGateway || o.Organization != "macro-co" {
		t.Fatalf("ownership: %+v", o)
	}
	if fmt.Sprint(o.RoleAttributes) != "[a z]" || fmt.Sprint(o.Reserved) != "[wg.g org.macro-co]" {
		t.Fatalf("roles: %v / %v", o.RoleAttributes, o.Reserved)
	}
	if fmt.Sprint(o.Tags) != "map[n:3 team:x]" {
		t.Fatalf("tags: %v", o.Tags)
	}
	// A foreign identity: kind guessed from the type, unmanaged.
	d.Tags = nil
	if o := observeIdentity(d); o.Managed || o.Kind != KindService {
		t.Fatalf("foreign: %+v", o)
	}
}
