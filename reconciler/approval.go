package reconciler

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

// Approval is one consumer's approval for one approval_required endpoint.
type Approval = intent.Approval

// ValidateNewExpiry refuses an approval expiry that is not ahead of now.
var ValidateNewExpiry = intent.ValidateNewExpiry

func approvalKey(a *Approval) string { return a.Endpoint + "." + a.Consumer }

// CheckApproval refuses an approval the network could not honour: an
// endpoint or consumer that does not exist, or an organisation other than
// the one whose identity hosts the endpoint. It also returns, as a
// warning, what the approval would change nothing about: an open
// contract. Plan and apply use it alike.
func (e *Engine) CheckApproval(ctx context.Context, a *Approval) (warning string, err error) {
	if err := a.Validate(); err != nil {
		return "", err
	}
	var f intent.FieldErrs
	ep, err := e.ObserveEndpoint(ctx, a.Endpoint)
	if controller.IsNotFound(err) {
		f.Add("endpoint", fmt.Errorf("endpoint %s does not exist (use agentmesh_endpoint.<name>.id)", a.Endpoint))
		return "", f.Err()
	}
	if err != nil {
		return "", err
	}
	if _, err := e.ObserveIdentity(ctx, a.Consumer); controller.IsNotFound(err) {
		f.Add("consumer", fmt.Errorf("identity %s does not exist (use agentmesh_identity.<name>.id)", a.Consumer))
	} else if err != nil {
		return "", err
	}
	host, err := e.ObserveIdentity(ctx, ep.Host)
	if controller.IsNotFound(err) {
		f.Add("endpoint", fmt.Errorf("the host identity %s of endpoint %q does not exist, so no organisation owns it; approve once it is hosted", ep.Host, ep.Name))
		return "", f.Err()
	}
	if err != nil {
		return "", err
	}
	if host.Organization != a.Organization {
		f.Add("organization", fmt.Errorf("endpoint %q is owned by organisation %q (its host's), not %q: only the owner approves its consumers, from its own state",
			ep.Name, host.Organization, a.Organization))
	}
	if err := f.Err(); err != nil {
		return "", err
	}
	con, err := e.FindContract(ctx, ep.Contract)
	if err != nil && !controller.IsNotFound(err) {
		return "", err
	}
	if con != nil && con.Value.AccessMode != "approval_required" {
		warning = fmt.Sprintf("Endpoint %q is under contract %q, whose access_mode is %q: every member of its workgroups may dial it, so this approval changes nothing until the contract requires approval.",
			ep.Name, con.Value.Name, con.Value.AccessMode)
	}
	return warning, nil
}

// CreateApproval records an approval and converges, so the consumer can
// dial the endpoint before the call returns. An expiry must lie ahead.
func (e *Engine) CreateApproval(ctx context.Context, a *Approval) (*Stored[Approval], error) {
	if err := ValidateNewExpiry(a.ExpiresAt, time.Now()); err != nil {
		return nil, fmt.Errorf("%w: expires_at: %w", ErrInvalidIntent, err)
	}
	done := e.intentWrite()
	defer done()
	if _, err := e.CheckApproval(ctx, a); err != nil {
		return nil, err
	}
	s, err := createConfig(ctx, e, kindApproval, approvalKey(a), *a)
	if err != nil {
		return nil, err
	}
	done()
	return s, e.Converge(ctx)
}

// ReadApproval reads an approval by its config id.
func (e *Engine) ReadApproval(ctx context.Context, id string) (*Stored[Approval], error) {
	return readKind[Approval](ctx, e, kindApproval, id)
}

// UpdateApproval changes the expiry (the rest replaces the approval).
func (e *Engine) UpdateApproval(ctx context.Context, id string, a *Approval) (*Stored[Approval], error) {
	cur, err := e.ReadApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.ExpiresAt != cur.Value.ExpiresAt {
		if err := ValidateNewExpiry(a.ExpiresAt, time.Now()); err != nil {
			return nil, fmt.Errorf("%w: expires_at: %w", ErrInvalidIntent, err)
		}
	}
	if _, err := e.CheckApproval(ctx, a); err != nil {
		return nil, err
	}
	s, err := updateConfig(ctx, e, kindApproval, id, approvalKey(a), *a)
	if err != nil {
		return nil, err
	}
	return s, e.Converge(ctx)
}

// DeleteApproval withdraws an approval; the consumer loses the endpoint
// before the call returns.
func (e *Engine) DeleteApproval(ctx context.Context, id string) error {
	if err := e.deleteConfig(ctx, id, "approval"); err != nil && !controller.IsNotFound(err) {
		return err
	}
	return e.Converge(ctx)
}

// UnenforcedOn lists, for a contract, the endpoints under it that leave
// some of its session terms unenforced, as "<endpoint>: <term>, ...".
func (e *Engine) UnenforcedOn(ctx context.Context, c *Contract) ([]string, error) {
	eps, err := configsOf[Endpoint](ctx, e, kindEndpoint)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ep := range eps {
		if ep.Value.Contract != c.Name {
			continue
		}
		if terms := intent.UnenforcedTerms(c, ep.Value.Hosting); len(terms) > 0 {
			out = append(out, ep.Value.Name+": "+strings.Join(terms, ", "))
		}
	}
	sort.Strings(out)
	return out, nil
}
