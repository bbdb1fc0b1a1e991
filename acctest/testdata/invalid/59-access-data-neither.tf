# expect: Missing Attribute Configuration
# phase: plan
data "agentmesh_access" "x" {}
