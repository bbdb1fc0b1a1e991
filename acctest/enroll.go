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
