"""Looking at a live cloud through its API: the catalog, and what tempest.conf needs from each service."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from interop.tempest_conf import CloudFacts


class CloudError(RuntimeError):
    pass


def _request(method: str, url: str, token: str | None = None, body: dict | None = None):
    headers = {"Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raise CloudError(f"{method} {url}: {err.code} {err.read()[:300]!r}") from None
    except urllib.error.URLError as err:
        raise CloudError(f"{method} {url}: {err.reason}") from None


def admin_token(identity_url: str, password: str, username: str = "admin", project: str = "admin",
                domain: str = "Default") -> tuple[str, dict]:
    auth = {"identity": {"methods": ["password"], "password": {"user": {
                "name": username, "domain": {"name": domain}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": domain}}}}
    headers, body = _request("POST", identity_url.rstrip("/") + "/auth/tokens", body={"auth": auth})
    return headers["X-Subject-Token"], body["token"]


def endpoint(catalog: list[dict], types: tuple[str, ...], region: str, interface: str = "public") -> str | None:
    for entry in catalog:
        if entry.get("type") in types:
            for ep in entry.get("endpoints", []):
                if ep.get("interface") == interface and ep.get("region_id", ep.get("region")) in (region, None):
                    return ep["url"].rstrip("/")
    return None


def _with_version(url: str, version: str) -> str:
    """A service URL ending in the API version (the image and network catalog URLs usually have none)."""
    return url if url.rstrip("/").endswith("/" + version) else f"{url}/{version}"


def _images(url: str, token: str) -> list[dict]:
    _, body = _request("GET", _with_version(url, "v2") + "/images?status=active&limit=100", token)
    return body.get("images", [])


def _flavors(url: str, token: str) -> list[dict]:
    _, body = _request("GET", url + "/flavors/detail", token)
    return body.get("flavors", [])


def _compute_version(url: str, token: str) -> str | None:
    try:
        _, body = _request("GET", url + "/", token)
    except CloudError:
        return None
    version = (body or {}).get("version") or {}
    return version.get("version") or None


def _external_networks(url: str, token: str) -> list[dict]:
    query = urllib.parse.urlencode({"router:external": "true"})
    _, body = _request("GET", _with_version(url, "v2.0") + "/networks?" + query, token)
    return body.get("networks", [])


def region_of(catalog: list[dict], default: str = "RegionOne") -> str:
    """The region of the identity service's public endpoint."""
    for entry in catalog:
        if entry.get("type") == "identity":
            for ep in entry.get("endpoints", []):
                if ep.get("interface") == "public" and ep.get("region_id", ep.get("region")):
                    return ep.get("region_id", ep.get("region"))
    return default


def facts(identity_url: str, admin_password: str, **security) -> CloudFacts:
    """Everything tempest.conf needs, read from the cloud with the admin's credentials."""
    token, body = admin_token(identity_url, admin_password)
    catalog = body.get("catalog", [])
    region = region_of(catalog)
    found = CloudFacts(identity_url=identity_url, admin_password=admin_password, catalog=catalog, region=region,
                       **security)
    if found.has("glance"):
        found.images = _images(endpoint(catalog, ("image",), region), token)
    if found.has("nova"):
        compute = endpoint(catalog, ("compute",), region)
        found.flavors = _flavors(compute, token)
        found.compute_max_microversion = _compute_version(compute, token)
    if found.has("neutron"):
        found.external_networks = _external_networks(endpoint(catalog, ("network",), region), token)
    return found
