# Import by the id of the membership's config on the controller
# (its name is agentmesh.membership.<workgroup>.<identity id>).
terraform import agentmesh_workgroup_membership.pulse_in_markets 5mQ1vXcY2d
