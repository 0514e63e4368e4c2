"""``tempest.conf`` from what the cloud holds: its catalog, and (once those services exist) its images,
flavors and external network, looked up through the API (see ``interop.discover``)."""

from __future__ import annotations

import configparser
import io
from dataclasses import dataclass, field
from pathlib import Path

# tempest's [service_available] flags and the catalog types that turn each one on
SERVICE_TYPES = {"keystone": ("identity",), "nova": ("compute",), "glance": ("image",),
                 "cinder": ("block-storage", "volumev3"), "neutron": ("network",)}
DEFAULT_MICROVERSION = "2.26"  # the least the required compute tests need (see tempest.conf.example)


@dataclass
class CloudFacts:
    """What tempest.conf is written from."""
    identity_url: str  # .../identity/v3
    admin_password: str
    catalog: list[dict]  # as a token shows it
    region: str = "RegionOne"
    admin_username: str = "admin"
    admin_project: str = "admin"
    domain_name: str = "Default"
    images: list[dict] = field(default_factory=list)  # active images (image API v2 objects)
    flavors: list[dict] = field(default_factory=list)  # flavors with details (compute API objects)
    external_networks: list[dict] = field(default_factory=list)  # networks with router:external
    compute_max_microversion: str | None = None
    # lockout after N failures for D seconds, password history of K: as the cloud is configured
    lockout_failure_attempts: int = 2
    lockout_duration: int = 5
    unique_last_password_count: int = 2
    # servers' floating IPs answer SSH from where Tempest runs (a local-backend Kumo exposing its external
    # network on the host): Tempest then logs into servers with its keypair (see validation())
    run_validation: bool = False

    def types(self) -> set[str]:
        return {entry.get("type") for entry in self.catalog}

    def has(self, flag: str) -> bool:
        return bool(self.types() & set(SERVICE_TYPES[flag]))

    def volume_type(self) -> str:
        return next((t for t in SERVICE_TYPES["cinder"] if t in self.types()), "block-storage")


def _two(items: list[str], what: str) -> tuple[str, str]:
    if not items:
        raise ValueError(f"the cloud has no {what}: tempest needs one")
    return items[0], items[1] if len(items) > 1 else items[0]


def pick_images(images: list[dict]) -> tuple[str, str]:
    """Two different active images when there are (tempest wants image_ref != image_ref_alt)."""
    active = sorted((i for i in images if i.get("status", "active") == "active"),
                    key=lambda i: (i.get("name") or "", i["id"]))
    return _two([i["id"] for i in active], "active image")


def pick_flavors(flavors: list[dict]) -> tuple[str, str]:
    """The two smallest flavors."""
    ordered = sorted(flavors, key=lambda f: (f.get("ram", 0), f.get("vcpus", 0), f.get("disk", 0), str(f["id"])))
    return _two([str(f["id"]) for f in ordered], "flavor")


def validation(facts: CloudFacts) -> dict[str, str]:
    """Tempest's [validation]: SSH into servers through a floating IP, as root, with the keypair Tempest
    creates (Kumo's generated keys are RSA), when the cloud's floating IPs are reachable from here."""
    if not (facts.run_validation and facts.external_networks and facts.has("nova") and facts.has("neutron")):
        return {"run_validation": "false"}
    return {"run_validation": "true", "connect_method": "floating", "auth_method": "keypair",
            "image_ssh_user": "root", "ssh_key_type": "rsa", "ip_version_for_ssh": "4",
            "security_group": "true", "security_group_rules": "true",
            # a SYN lost while the floating IP is still being wired is retried after 5 s, not 60
            "ssh_timeout": "120", "connect_timeout": "5"}


def sections(facts: CloudFacts, workspace: Path) -> dict[str, dict[str, str]]:
    """tempest.conf as ``{section: {option: value}}``."""
    network = facts.has("neutron")
    conf: dict[str, dict[str, str]] = {
        "DEFAULT": {"log_dir": str(workspace / "logs"), "log_file": "tempest.log"},
        "oslo_concurrency": {"lock_path": str(workspace / "tempest_lock")},
        "auth": {"use_dynamic_credentials": "true",
                 # tempest makes a network, subnet and router per test class when it can
                 "create_isolated_networks": str(network).lower(),
                 "admin_username": facts.admin_username, "admin_password": facts.admin_password,
                 "admin_project_name": facts.admin_project, "admin_domain_name": facts.domain_name,
                 "default_credentials_domain_name": facts.domain_name},
        "identity": {"uri_v3": facts.identity_url, "auth_version": "v3", "region": facts.region,
                     "v3_endpoint_type": "public", "disable_ssl_certificate_validation": "true",
                     "http_timeout": "30",
                     "user_lockout_failure_attempts": str(facts.lockout_failure_attempts),
                     "user_lockout_duration": str(facts.lockout_duration),
                     "user_unique_last_password_count": str(facts.unique_last_password_count)},
        "identity-feature-enabled": {"api_v2": "false", "api_v3": "true", "security_compliance": "true",
                                     "access_rules": "true", "trust": "false"},
        "validation": validation(facts),
        "service_available": {flag: str(facts.has(flag)).lower() for flag in SERVICE_TYPES},
    }
    conf["service_available"].update(swift="false", horizon="false", placement="false")
    if facts.has("nova"):
        image_ref, image_ref_alt = pick_images(facts.images) if facts.has("glance") else ("", "")
        flavor_ref, flavor_ref_alt = pick_flavors(facts.flavors)
        conf["compute"] = {"image_ref": image_ref, "image_ref_alt": image_ref_alt, "flavor_ref": flavor_ref,
                           "flavor_ref_alt": flavor_ref_alt,
                           "max_microversion": facts.compute_max_microversion or DEFAULT_MICROVERSION,
                           "build_timeout": "60", "build_interval": "1"}
        conf["compute-feature-enabled"] = {
            "resize": "true", "console_output": "false", "vnc_console": "false", "change_password": "false",
            "live_migration": "false", "cold_migration": "false", "interface_attach": str(network).lower(),
            "snapshot": "true", "metadata_service": "false", "config_drive": "false"}
    if facts.has("glance"):
        conf["image"] = {"build_timeout": "60"}
        conf["image-feature-enabled"] = {"api_v2": "true", "import_image": "false",
                                         "image_format_enforcement": "false"}
    if network:
        conf["network"] = {"project_network_cidr": "10.100.0.0/16", "project_network_mask_bits": "28",
                           "build_timeout": "60"}
        if facts.external_networks:
            public = sorted(facts.external_networks, key=lambda n: (n.get("name") or "", n["id"]))[0]
            conf["network"].update(public_network_id=public["id"], floating_network_name=public.get("name") or "")
        conf["network-feature-enabled"] = {"api_extensions": "all", "ipv6": "true", "ipv6_subnet_attributes": "true",
                                           "floating_ips": str(bool(facts.external_networks)).lower(),
                                           "port_security": "true"}
        conf["neutron_plugin_options"] = {"available_type_drivers": "vlan,vxlan", "provider_vlans": "physnet1"}
    if facts.has("cinder"):
        conf["volume"] = {"catalog_type": facts.volume_type(), "storage_protocol": "iSCSI",
                          "vendor_name": "Open Source", "volume_size": "1", "build_timeout": "60"}
        conf["volume-feature-enabled"] = {"backup": "false", "snapshot": "true", "clone": "true",
                                          "extend_attached_volume": "false"}
    return conf


def render(facts: CloudFacts, workspace: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    for name, options in sections(facts, workspace).items():
        if name != "DEFAULT":
            parser.add_section(name)
        for key, value in options.items():
            parser.set(name, key, value.replace("$", "$$"))  # oslo.config expands $names
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()
