"""Keystone's default policies, as rules over the caller and the target.

The admin role in any scope is the cloud admin (Keystone's legacy
``admin_required``, which its defaults still accept); readers may read,
members of a project see that project; a domain-scoped reader reads its domain.
"""

from kumo.policy import (ADMIN_OR_SYSTEM_READER, Policy, admin, all_of, any_of, authenticated, domain_reader,
                         in_domain, in_project, owner)

def _project_domain_is_target(ctx, target) -> bool:
    return ctx.project_domain_id is not None and target.get("id") == ctx.project_domain_id


READ_IN_DOMAIN = any_of(ADMIN_OR_SYSTEM_READER, domain_reader("domain_id"))
# Keystone's grant readers: a domain reader whose domain is both the target's (the project's or the domain
# itself) and the actor's (the user's or the group's)
READ_GRANTS = any_of(ADMIN_OR_SYSTEM_READER, all_of(domain_reader("domain_id"), in_domain("actor_domain_id")))
ADMIN = admin

policy = Policy({
    # tokens
    "identity:validate_token": any_of(ADMIN_OR_SYSTEM_READER, owner("token_user_id")),
    "identity:revoke_token": any_of(admin, owner("token_user_id")),
    "identity:get_auth_catalog": authenticated,
    "identity:get_auth_projects": authenticated,
    "identity:get_auth_domains": authenticated,
    "identity:get_auth_system": authenticated,
    # domains
    "identity:get_domain": any_of(ADMIN_OR_SYSTEM_READER, in_domain("id"), _project_domain_is_target),
    "identity:list_domains": ADMIN_OR_SYSTEM_READER,
    "identity:create_domain": ADMIN, "identity:update_domain": ADMIN, "identity:delete_domain": ADMIN,
    # projects
    "identity:get_project": any_of(READ_IN_DOMAIN, in_project("id")),
    "identity:list_projects": READ_IN_DOMAIN,
    "identity:list_user_projects": any_of(READ_IN_DOMAIN, owner("user_id")),
    "identity:create_project": ADMIN, "identity:update_project": ADMIN, "identity:delete_project": ADMIN,
    "identity:project_tags": any_of(READ_IN_DOMAIN, in_project("id")),
    "identity:update_project_tags": ADMIN,
    # users
    "identity:get_user": any_of(READ_IN_DOMAIN, owner("id")),
    "identity:list_users": READ_IN_DOMAIN,
    "identity:create_user": ADMIN, "identity:update_user": ADMIN, "identity:delete_user": ADMIN,
    "identity:list_groups_for_user": any_of(READ_IN_DOMAIN, owner("user_id")),
    # groups
    "identity:get_group": READ_IN_DOMAIN, "identity:list_groups": READ_IN_DOMAIN,
    "identity:list_users_in_group": READ_IN_DOMAIN, "identity:check_user_in_group": READ_IN_DOMAIN,
    "identity:create_group": ADMIN, "identity:update_group": ADMIN, "identity:delete_group": ADMIN,
    "identity:add_user_to_group": ADMIN, "identity:remove_user_from_group": ADMIN,
    # roles and grants
    "identity:get_role": ADMIN_OR_SYSTEM_READER, "identity:list_roles": READ_IN_DOMAIN,
    "identity:create_role": ADMIN, "identity:update_role": ADMIN, "identity:delete_role": ADMIN,
    "identity:implied_roles": ADMIN_OR_SYSTEM_READER, "identity:update_implied_roles": ADMIN,
    "identity:list_grants": READ_GRANTS, "identity:check_grant": READ_GRANTS,
    "identity:create_grant": ADMIN, "identity:revoke_grant": ADMIN,
    "identity:list_role_assignments": READ_IN_DOMAIN,
    # application credentials and access rules
    "identity:application_credentials": any_of(ADMIN_OR_SYSTEM_READER, owner("user_id")),
    "identity:create_application_credential": owner("user_id"),
    "identity:delete_application_credential": any_of(admin, owner("user_id")),
    "identity:access_rules": any_of(ADMIN_OR_SYSTEM_READER, owner("user_id")),
    "identity:delete_access_rule": any_of(admin, owner("user_id")),
    # catalog
    "identity:get_region": authenticated, "identity:list_regions": authenticated,
    "identity:manage_regions": ADMIN,
    "identity:get_service": ADMIN_OR_SYSTEM_READER, "identity:list_services": ADMIN_OR_SYSTEM_READER,
    "identity:manage_services": ADMIN,
    "identity:get_endpoint": ADMIN_OR_SYSTEM_READER, "identity:list_endpoints": ADMIN_OR_SYSTEM_READER,
    "identity:manage_endpoints": ADMIN,
})
