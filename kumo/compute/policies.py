"""Nova's default policies: admin anywhere; project members write and readers read within their
project; key pairs belong to their user. Another project's server is answered with 404, not 403
(the handlers look servers up within the caller's project)."""

from kumo.policy import (
    ADMIN_OR_SYSTEM_READER,
    Policy,
    admin,
    any_of,
    authenticated,
    owner,
    project_member,
    project_reader,
)

PROJECT_READER = any_of(ADMIN_OR_SYSTEM_READER, project_reader(), project_member())
PROJECT_MEMBER = any_of(admin, project_member())

policy = Policy({
    "os_compute_api:servers:index": authenticated,
    "os_compute_api:servers:index:get_all_tenants": ADMIN_OR_SYSTEM_READER,
    "os_compute_api:servers:detail": authenticated,
    "os_compute_api:servers:show": PROJECT_READER,
    "os_compute_api:servers:show:host_status": admin,
    "os_compute_api:servers:create": PROJECT_MEMBER,
    "compute:servers:create:requested_destination": admin,  # 2.74: host / hypervisor_hostname at create
    "os_compute_api:servers:update": PROJECT_MEMBER,
    "os_compute_api:servers:delete": PROJECT_MEMBER,
    "os_compute_api:servers:action": PROJECT_MEMBER,
    "os_compute_api:servers:create_image": PROJECT_MEMBER,
    "os_compute_api:os-lock-server:unlock:unlock_override": admin,
    "os_compute_api:os-console-output": PROJECT_MEMBER,
    "os_compute_api:server-metadata:index": PROJECT_READER,
    "os_compute_api:server-metadata:update": PROJECT_MEMBER,
    "os_compute_api:server-tags:index": PROJECT_READER,
    "os_compute_api:server-tags:update": PROJECT_MEMBER,
    "os_compute_api:ips:index": PROJECT_READER,
    "compute:server:topology:index": PROJECT_READER,  # 2.78
    "os_compute_api:os-instance-actions:list": PROJECT_READER,
    "os_compute_api:os-instance-actions:events": ADMIN_OR_SYSTEM_READER,
    "os_compute_api:os-instance-actions:events:details": ADMIN_OR_SYSTEM_READER,  # 2.84
    "os_compute_api:os-volumes-attachments:index": PROJECT_READER,
    "os_compute_api:os-attach-interfaces:list": PROJECT_READER,
    "os_compute_api:os-attach-interfaces:show": PROJECT_READER,
    "os_compute_api:os-attach-interfaces:create": PROJECT_MEMBER,
    "os_compute_api:os-attach-interfaces:delete": PROJECT_MEMBER,
    "os_compute_api:os-server-groups:create": PROJECT_MEMBER,
    "os_compute_api:os-server-groups:delete": PROJECT_MEMBER,
    "os_compute_api:os-server-groups:index": PROJECT_READER,
    "os_compute_api:os-server-groups:index:all_projects": ADMIN_OR_SYSTEM_READER,
    "os_compute_api:os-server-groups:show": PROJECT_READER,
    "os_compute_api:os-volumes-attachments:create": PROJECT_MEMBER,
    "os_compute_api:os-volumes-attachments:delete": PROJECT_MEMBER,
    "os_compute_api:os-volumes-attachments:update": PROJECT_MEMBER,  # 2.85
    "os_compute_api:os-volumes-attachments:swap": admin,
    "os_compute_api:os-security-groups:list": PROJECT_READER,
    "os_compute_api:os-flavor-manage": admin,
    "os_compute_api:os-flavor-manage:update": admin,
    "os_compute_api:os-flavor-extra-specs:index": authenticated,
    "os_compute_api:os-flavor-extra-specs:manage": admin,
    "os_compute_api:os-flavor-access": admin,
    "os_compute_api:flavors": authenticated,
    "os_compute_api:os-keypairs": any_of(admin, owner("user_id")),
    "os_compute_api:os-quota-sets:show": PROJECT_READER,
    "os_compute_api:os-quota-sets:defaults": authenticated,
    "os_compute_api:os-quota-sets:update": admin,
    "os_compute_api:os-availability-zone:list": authenticated,
    "os_compute_api:os-availability-zone:detail": ADMIN_OR_SYSTEM_READER,
    "os_compute_api:os-hypervisors": ADMIN_OR_SYSTEM_READER,
    "os_compute_api:os-services": ADMIN_OR_SYSTEM_READER,
    "os_compute_api:limits": authenticated,
    "os_compute_api:images": authenticated,
    "os_compute_api:extended_server_attributes": ADMIN_OR_SYSTEM_READER,
})
