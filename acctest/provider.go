package acctest

import (
	"os"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/agentmesh/agentmesh/provider"
)

// ProviderFactories serves the provider under test in-process, so no
// registry is ever contacted.
var ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"agentmesh": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// UseEnv points the provider's AGENTMESH_* variables at c, so test
// configurations need no credentials in their HCL.
func (c *Controller) UseEnv() error {
	for k, v := range map[string]string{
		"AGENTMESH_ENDPOINT": c.Origin,
		"AGENTMESH_USERNAME": c.Username,
		"AGENTMESH_PASSWORD": c.Password,
		"AGENTMESH_CA_PEM":   string(c.CAPEM),
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Config prefixes a test configuration with the provider's source address.
// Import steps need it: without it the CLI resolves "agentmesh" to
// hashicorp/agentmesh. "agentmesh/agentmesh" resolves on either CLI's
// registry host (see ProviderHost).
func Config(body string) string {
	return `terraform {
  required_providers {
    agentmesh = { source = "agentmesh/agentmesh" }
  }
}
` + body
}

// ErrorText matches a diagnostic as tofu prints it: wrapped at any space.
func ErrorText(re string) *regexp.Regexp {
	return regexp.MustCompile("(?s)" + strings.ReplaceAll(re, " ", `\s+`))
}
