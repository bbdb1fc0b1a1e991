package controller

import (
	"fmt"
	"net/url"
	"os"
	"sync"

	edgeapis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/internal/sdklog"
)

// zitiContext is the client's data-plane identity: the same credentials,
// used through sdk-golang to dial dark services (gateway control
// services). Created on first use.
type zitiContext struct {
	once sync.Once
	ctx  ziti.Context
	err  error
}

// Ziti returns an sdk-golang context authenticated like the client.
func (c *Client) Ziti() (ziti.Context, error) {
	c.zctx.once.Do(func() {
		u := *c.res.managementURL
		u.Path = "/edge/client/v1"
		cfg := &ziti.Config{ZtAPI: u.String()}
		switch c.res.method {
		case "cert":
			idf, err := c.cfg.identityFile()
			if err != nil {
				c.zctx.err = err
				return
			}
			cfg.ID = idf.ID
			if c.res.caPool != nil && idf.ID.CA == "" {
				cfg.Credentials = edgeapis.NewIdentityCredentialsFromConfig(idf.ID)
				cfg.Credentials.(*edgeapis.IdentityCredentials).CaPool = c.res.caPool
			}
		default:
			creds := edgeapis.NewUpdbCredentials(c.cfg.Username, c.cfg.Password)
			creds.CaPool = c.res.caPool
			cfg.Credentials = creds
		}
		sdklog.Quiet(os.Stderr)
		c.zctx.ctx, c.zctx.err = ziti.NewContext(cfg)
		if c.zctx.err != nil {
			c.zctx.err = fmt.Errorf("%w: opening a Ziti context for %s: %w", ErrConfig, (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), c.zctx.err)
		}
	})
	return c.zctx.ctx, c.zctx.err
}
