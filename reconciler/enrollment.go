package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/openziti/edge-api/rest_management_api_client/enrollment"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// Enrollment is a one-time enrollment token for an identity.
type Enrollment struct {
	JWT       string
	ExpiresAt time.Time
}

// IssueEnrollment returns a one-time enrollment token for an identity
// that has not enrolled: its current token while that is valid for at
// least another minute, else a new one valid for ttl (expired ones are
// removed). It returns nil for an identity that has enrolled: there is
// nothing left to hand out. The token is returned, never stored.
func (e *Engine) IssueEnrollment(ctx context.Context, identityID string, ttl time.Duration) (*Enrollment, error) {
	if ttl < time.Minute || ttl > 30*24*time.Hour {
		return nil, fmt.Errorf("%w: an enrollment token's lifetime must be between 1 minute and 30 days, not %s", ErrInvalidIntent, ttl)
	}
	o, err := e.fetchIdentity(ctx, identityID)
	if err != nil {
		return nil, err
	}
	if o.Enrolled {
		return nil, nil
	}
	filter := fmt.Sprintf("identity = %s", quoteFilter(identityID))
	current, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.EnrollmentDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Enrollment.ListEnrollments(enrollment.NewListEnrollmentsParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing the enrollments of identity "+identityID)
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range current {
		if deref(d.Method) != "ott" {
			continue
		}
		if d.ExpiresAt != nil && time.Until(time.Time(*d.ExpiresAt)) > time.Minute && d.JWT != "" {
			return &Enrollment{JWT: d.JWT, ExpiresAt: time.Time(*d.ExpiresAt)}, nil
		}
		_, err := e.c.API.Enrollment.DeleteEnrollment(enrollment.NewDeleteEnrollmentParamsWithContext(ctx).WithID(deref(d.ID)), nil)
		if err := controller.Explain(err, "removing an expired enrollment token of identity "+identityID); err != nil && !controller.IsNotFound(err) {
			return nil, err
		}
	}
	expires := strfmt.DateTime(time.Now().Add(ttl).UTC())
	created, err := e.c.API.Enrollment.CreateEnrollment(enrollment.NewCreateEnrollmentParamsWithContext(ctx).WithEnrollment(&rest_model.EnrollmentCreate{
		IdentityID: ptr(identityID), Method: ptr("ott"), ExpiresAt: &expires,
	}), nil)
	if err != nil {
		return nil, controller.Explain(err, "issuing an enrollment token for identity "+identityID)
	}
	d, err := e.c.API.Enrollment.DetailEnrollment(enrollment.NewDetailEnrollmentParamsWithContext(ctx).WithID(created.Payload.Data.ID), nil)
	if err != nil {
		return nil, controller.Explain(err, "reading the enrollment token of identity "+identityID)
	}
	if d.Payload.Data.JWT == "" {
		return nil, fmt.Errorf("the controller issued enrollment %s for identity %s without a token", created.Payload.Data.ID, identityID)
	}
	out := &Enrollment{JWT: d.Payload.Data.JWT, ExpiresAt: time.Time(expires)}
	if d.Payload.Data.ExpiresAt != nil {
		out.ExpiresAt = time.Time(*d.Payload.Data.ExpiresAt)
	}
	return out, nil
}
