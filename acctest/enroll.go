package acctest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openziti/sdk-golang/ziti"
	"github.com/openziti/sdk-golang/ziti/enroll"
)

// Enroll completes a one-time-token enrollment with sdk-golang, as an agent
// would, and writes the identity file (mode 0600) into dir.
func Enroll(jwt, dir, name string) (string, *ziti.Config, error) {
	claims, tok, err := enroll.ParseToken(jwt)
	if err != nil {
		return "", nil, fmt.Errorf("parsing the enrollment JWT: %w", err)
	}
	cfg, err := enroll.Enroll(enroll.EnrollmentFlags{
		Token: claims, JwtToken: tok, JwtString: jwt, KeyAlg: ziti.KeyAlgVar("EC"),
	})
	if err != nil {
		return "", nil, fmt.Errorf("enrolling: %w", err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", nil, err
	}
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", nil, err
	}
	return p, cfg, nil
}

// ServicesAs lists, as the enrolled identity itself would through
// sdk-golang, the services it can see, with the agentmesh configs that
// travel with each one.
func ServicesAs(cfg *ziti.Config) (map[string]map[string]map[string]any, error) {
	c := *cfg
	c.ConfigTypes = []string{"agentmesh.contract.v1", "agentmesh.endpoint.v1", "intercept.v1"}
	ctx, err := ziti.NewContext(&c)
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	if err := ctx.RefreshServices(); err != nil {
		return nil, err
	}
	svcs, err := ctx.GetServices()
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]map[string]any{}
	for _, s := range svcs {
		if s.Name != nil {
			out[*s.Name] = s.Config
		}
	}
	return out, nil
}
