package reconciler_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/openziti/edge-api/rest_management_api_client/enrollment"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
)

// TestIssueEnrollment: an identity's current token is handed out while it
// is valid; one about to expire is replaced by a fresh one (no need to
// replace the identity); the fresh one enrolls it; an enrolled identity
// gets none.
func TestIssueEnrollment(t *testing.T) {
	ctx := context.Background()
	e := engine(t)
	o, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "enr-agent", Organization: "enr-co", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, o.ID) })
	en, err := e.IssueEnrollment(ctx, o.ID, 10*time.Minute)
	if err != nil || en == nil || en.JWT != o.EnrollmentJWT {
		t.Fatalf("a valid token is not handed out as it is: %v %v", en == nil, err)
	}
	// Replace it by one that expires within the minute.
	api, err := acctest.Shared.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	filter := `identity = "` + o.ID + `"`
	list, err := api.API.Enrollment.ListEnrollments(enrollment.NewListEnrollmentsParamsWithContext(ctx).WithFilter(&filter), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list.Payload.Data {
		if _, err := api.API.Enrollment.DeleteEnrollment(enrollment.NewDeleteEnrollmentParamsWithContext(ctx).WithID(*d.ID), nil); err != nil {
			t.Fatal(err)
		}
	}
	soon := strfmt.DateTime(time.Now().Add(50 * time.Second))
	method := "ott"
	if _, err := api.API.Enrollment.CreateEnrollment(enrollment.NewCreateEnrollmentParamsWithContext(ctx).WithEnrollment(&rest_model.EnrollmentCreate{
		IdentityID: &o.ID, Method: &method, ExpiresAt: &soon}), nil); err != nil {
		t.Fatal(err)
	}
	fresh, err := e.IssueEnrollment(ctx, o.ID, 10*time.Minute)
	if err != nil || fresh == nil || fresh.JWT == o.EnrollmentJWT || time.Until(fresh.ExpiresAt) < 9*time.Minute {
		t.Fatalf("a token about to expire was not replaced: %+v %v", fresh != nil, err)
	}
	acctest.Secret("reissued enrollment token", fresh.JWT)
	if _, _, err := acctest.Enroll(fresh.JWT, t.TempDir(), "enr-agent"); err != nil {
		t.Fatalf("the reissued token does not enroll the identity: %v", err)
	}
	if en, err := e.IssueEnrollment(ctx, o.ID, 10*time.Minute); err != nil || en != nil {
		t.Fatalf("an enrolled identity got a token (%v) or an error: %v", en != nil, err)
	}
	if _, err := e.IssueEnrollment(ctx, o.ID, 10*time.Second); err == nil {
		t.Fatal("a lifetime under a minute was accepted")
	}
}
