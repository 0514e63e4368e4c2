"""``GET /network/`` (versions), ``GET /network/v2.0`` (resources), ``/v2.0/extensions``."""

from kumo.api.routing import Call
from kumo.errors import NotFound
from kumo.network.http.common import router

# alias -> (name, description); exactly what Kumo implements
EXTENSIONS = {
    "external-net": ("Neutron external network", "Adds external network attribute to network resource."),
    "router": ("Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and"
                                   " access to external networks via a NAT gateway."),
    "subnet-external-network": ("Subnet belongs to an external network",
                                "Informs if the subnet belongs to an external network"),
    "extraroute": ("Neutron Extra Route", "Extra routes configuration for L3 router"),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode",
                    "Extension of the router abstraction for specifying whether SNAT should occur on the"
                    " external gateway"),
    "security-group": ("security-group", "The security groups extension."),
    "provider": ("Provider Network", "Expose mapping of virtual networks to physical networks"),
    "net-mtu": ("Network MTU", "Provides MTU attribute for a network resource."),
    "port-security": ("Port Security", "Provides port security"),
    "allowed-address-pairs": ("Allowed Address Pairs", "Provides allowed address pairs"),
    "binding": ("Port Binding", "Expose port bindings of a virtual port to external application"),
    "subnet_allocation": ("Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    "default-subnetpools": ("Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    "project-id": ("project_id field enabled", "Extension that indicates that project_id field is enabled."),
    "standard-attr-description": ("standard-attr-description", "Extension to add descriptions to standard"
                                                               " attributes"),
    "standard-attr-revisions": ("Resource revision numbers", "This extension will display the revision number of"
                                                             " neutron resources."),
    "standard-attr-timestamp": ("Resource timestamps", "Adds created_at and updated_at fields to all Neutron"
                                                       " resources that have Neutron standard attributes."),
    "standard-attr-tag": ("Tag support for resources with standard attribute",
                          "Enables to set tag on resources with standard attribute."),
    "quotas": ("Quota management support", "Expose functions for quotas management per project"),
    "quota_details": ("Quota details management support", "Expose functions for quotas usage statistics per"
                                                          " project"),
    "quota-check-limit": ("Quota engine limit check", "Support for checking the resource usage before applying"
                                                      " a new quota limit"),
    "port-security-groups-filtering": ("Port filtering on security groups",
                                       "Provides security groups filtering when listing ports"),
    "sorting": ("Sorting support", "Extension that indicates that sorting is enabled."),
    "pagination": ("Pagination support", "Extension that indicates that pagination is enabled."),
    "fip-port-details": ("Floating IP Port Details Extension", "Add port_details attribute to Floating IP"
                                                               " resource"),
    "flow_classifier": ("Flow Classifier", "Flow Classifier Extension."),
    "sfc": ("Service Function Chaining", "Service Function Chain extension."),
    "service-graph": ("Service Graph", "Service Graph extension."),
    "trunk": ("Trunk Extension", "Provides support for trunk ports"),
    "trunk-details": ("Trunk port details", "Expose trunk port details"),
}
UPDATED = "2024-01-01T00:00:00-00:00"


def _extension(alias: str) -> dict:
    name, description = EXTENSIONS[alias]
    return {"alias": alias, "name": name, "description": description, "updated": UPDATED, "links": []}


@router.get("/")
def list_versions(call: Call):
    base = call.cloud.settings.base_url + "/network/v2.0/"
    return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": base}]}]}


@router.get("/v2.0")
def list_resources(call: Call):
    base = call.cloud.settings.base_url + "/network/v2.0/"
    names = ["network", "subnet", "port", "subnetpool", "router", "floatingip", "security_group",
             "security_group_rule"]
    return {"resources": [{"name": n, "collection": n + "s", "links": [{"rel": "self", "href": base + n + "s"}]}
                          for n in names]}


router.get("/v2.0/")(list_resources)


@router.get("/v2.0/extensions")
def list_extensions(call: Call):
    call.ctx  # authenticated
    return {"extensions": [_extension(alias) for alias in EXTENSIONS]}


@router.get("/v2.0/extensions/{alias}")
def show_extension(call: Call):
    call.ctx
    alias = call.params["alias"]
    if alias not in EXTENSIONS:
        raise NotFound(f"Extension with alias {alias} does not exist", kind="ExtensionNotFound")
    return {"extension": _extension(alias)}
