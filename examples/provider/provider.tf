# Recommended: certificate authentication with an enrolled admin identity.
# The controller URL and its CA come from the identity file.
provider "agentmesh" {
  identity_file = "~/.agentmesh/terraform-admin.json"
}

# Alternatively, username and password with a pinned CA:
#
# provider "agentmesh" {
#   endpoint = "https://ctrl.example.com:1280"
#   username = "admin"
#   password = var.ziti_admin_password # or AGENTMESH_PASSWORD
#   ca_file  = "ctrl-ca.pem"
# }
