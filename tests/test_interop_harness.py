"""The pure parts of the interop harness: slices, tempest.conf generation, result counting."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from interop import discover, lists, results, tempest_conf
from interop.tempest_conf import CloudFacts

WS = Path("/ws")


# -- slices --------------------------------------------------------------------

@pytest.mark.parametrize("suite, count", [("identity", 17), ("compute", 95), ("image", 23), ("network", 81),
                                          ("volume", 65), ("all", 281), ("trunk-sfc", 71)])
def test_slice_sizes(suite, count):
    tests = lists.select(suite)
    assert len(tests) == count
    assert len(set(tests)) == count


def test_service_slices_partition_the_required_list():
    slices = {suite: lists.select(suite) for suite in lists.SERVICES}
    for suite, tests in slices.items():
        assert all(t.startswith(f"tempest.api.{suite}.") for t in tests), suite
    assert sorted(t for tests in slices.values() for t in tests) == sorted(lists.select("all"))


def test_slices_keep_exact_ids_with_their_tags():
    identity = lists.select("identity")
    assert ("tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token"
            "[id-6f8e4436-fc96-4282-8122-e41df57197a9]") in identity
    assert any(t.endswith(",smoke]") for t in identity)
    trunk = lists.select("trunk-sfc")
    assert all(t.startswith("neutron_tempest_plugin.") for t in trunk)


def test_unknown_suite_is_refused():
    with pytest.raises(ValueError, match="unknown suite 'identiy'"):
        lists.select("identiy")


# -- tempest.conf --------------------------------------------------------------

def _entry(type_: str, url: str, region: str = "RegionOne") -> dict:
    return {"type": type_, "name": type_, "id": type_ + "-id",
            "endpoints": [{"interface": i, "region": region, "region_id": region, "url": url, "id": i}
                          for i in ("public", "internal", "admin")]}


IDENTITY_ONLY = [_entry("identity", "http://127.0.0.1:5000/identity")]
FULL = IDENTITY_ONLY + [_entry("compute", "http://h/compute/v2.1"), _entry("image", "http://h/image"),
                        _entry("network", "http://h/networking"), _entry("block-storage", "http://h/volume/v3/p")]


def _parse(facts: CloudFacts) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(tempest_conf.render(facts, WS))
    return parser


def test_identity_only_cloud():
    facts = CloudFacts(identity_url="http://127.0.0.1:5000/identity/v3", admin_password="pw", catalog=IDENTITY_ONLY)
    conf = _parse(facts)
    assert tempest_conf.sections(facts, WS)["service_available"] == {
        "keystone": "true", "nova": "false", "glance": "false", "cinder": "false", "neutron": "false",
        "swift": "false", "horizon": "false", "placement": "false"}
    assert conf["auth"]["create_isolated_networks"] == "false"
    assert conf["auth"]["admin_password"] == "pw"
    assert conf["auth"]["admin_project_name"] == "admin"
    assert conf["identity"]["uri_v3"] == "http://127.0.0.1:5000/identity/v3"
    assert (conf["identity"]["user_lockout_failure_attempts"], conf["identity"]["user_lockout_duration"],
            conf["identity"]["user_unique_last_password_count"]) == ("2", "5", "2")
    assert conf["identity-feature-enabled"]["security_compliance"] == "true"
    assert conf["DEFAULT"]["log_dir"] == "/ws/logs"
    assert conf["oslo_concurrency"]["lock_path"] == "/ws/tempest_lock"
    for absent in ("compute", "image", "network", "volume", "neutron_plugin_options"):
        assert not conf.has_section(absent), absent


def test_security_values_follow_the_cloud():
    conf = _parse(CloudFacts(identity_url="u", admin_password="pw", catalog=IDENTITY_ONLY,
                             lockout_failure_attempts=3, lockout_duration=60, unique_last_password_count=4))
    assert (conf["identity"]["user_lockout_failure_attempts"], conf["identity"]["user_lockout_duration"],
            conf["identity"]["user_unique_last_password_count"]) == ("3", "60", "4")


def test_password_dollars_are_escaped_for_oslo_config():
    conf = _parse(CloudFacts(identity_url="u", admin_password="a$b%c", catalog=IDENTITY_ONLY))
    assert conf["auth"]["admin_password"] == "a$$b%c"


def test_full_cloud_fills_refs_from_its_resources():
    facts = CloudFacts(
        identity_url="u", admin_password="pw", catalog=FULL,
        images=[{"id": "img-b", "name": "cirros-b", "status": "active"},
                {"id": "img-q", "name": "queued", "status": "queued"},
                {"id": "img-a", "name": "cirros-a", "status": "active"}],
        flavors=[{"id": "big", "ram": 4096, "vcpus": 2, "disk": 20}, {"id": "1", "ram": 512, "vcpus": 1, "disk": 1},
                 {"id": "2", "ram": 1024, "vcpus": 1, "disk": 5}],
        external_networks=[{"id": "net-pub", "name": "public"}], compute_max_microversion="2.79")
    conf = _parse(facts)
    assert all(conf["service_available"][flag] == "true" for flag in ("keystone", "nova", "glance", "cinder",
                                                                        "neutron"))
    assert conf["auth"]["create_isolated_networks"] == "true"
    assert (conf["compute"]["image_ref"], conf["compute"]["image_ref_alt"]) == ("img-a", "img-b")
    assert (conf["compute"]["flavor_ref"], conf["compute"]["flavor_ref_alt"]) == ("1", "2")
    assert conf["compute"]["max_microversion"] == "2.79"
    assert conf["network"]["public_network_id"] == "net-pub"
    assert conf["network"]["floating_network_name"] == "public"
    assert conf["network-feature-enabled"]["floating_ips"] == "true"
    assert conf["volume"]["catalog_type"] == "block-storage"
    assert conf["neutron_plugin_options"]["available_type_drivers"] == "vlan,vxlan"


def test_defaults_when_the_cloud_holds_little():
    facts = CloudFacts(identity_url="u", admin_password="pw",
                       catalog=IDENTITY_ONLY + [_entry("compute", "c"), _entry("image", "i"), _entry("network", "n"),
                                                _entry("volumev3", "v")],
                       images=[{"id": "only", "status": "active"}], flavors=[{"id": 1, "ram": 64}])
    conf = _parse(facts)
    assert conf["compute"]["image_ref"] == conf["compute"]["image_ref_alt"] == "only"
    assert conf["compute"]["flavor_ref"] == conf["compute"]["flavor_ref_alt"] == "1"
    assert conf["compute"]["max_microversion"] == tempest_conf.DEFAULT_MICROVERSION
    assert not conf.has_option("network", "public_network_id")
    assert conf["network-feature-enabled"]["floating_ips"] == "false"
    assert conf["volume"]["catalog_type"] == "volumev3"
    assert conf["service_available"]["cinder"] == "true"


def test_compute_without_flavors_is_an_error():
    facts = CloudFacts(identity_url="u", admin_password="pw", catalog=FULL, images=[{"id": "i"}])
    with pytest.raises(ValueError, match="no flavor"):
        tempest_conf.render(facts, WS)


def test_region_and_endpoints_from_the_catalog():
    catalog = [_entry("identity", "http://x/identity", region="Elsewhere"), _entry("image", "http://x/image/",
                                                                                   region="Elsewhere")]
    assert discover.region_of(catalog) == "Elsewhere"
    assert discover.region_of([]) == "RegionOne"
    assert discover.endpoint(catalog, ("image",), "Elsewhere") == "http://x/image"
    assert discover.endpoint(catalog, ("compute",), "Elsewhere") is None


def test_facts_from_a_live_kumo(cloud):
    with cloud.http(cloud.token()) as http:
        resp = http.get("/identity/v3/auth/catalog")
    assert resp.status_code == 200
    types = {entry["type"] for entry in resp.json()["catalog"]}
    facts = discover.facts(cloud.identity_url, cloud.password())
    assert facts.types() == types
    conf = _parse(facts)
    assert conf["identity"]["uri_v3"] == cloud.identity_url
    assert conf["identity"]["region"] == "RegionOne"
    for flag, flag_types in tempest_conf.SERVICE_TYPES.items():
        assert conf["service_available"][flag] == str(bool(types & set(flag_types))).lower(), flag
    assert conf["auth"]["create_isolated_networks"] == str("network" in types).lower()


def test_facts_with_a_wrong_password_fail_clearly(cloud):
    with pytest.raises(discover.CloudError, match="401"):
        discover.facts(cloud.identity_url, "not-the-password")


# -- results -------------------------------------------------------------------

T = "tempest.api.identity.v3.test_x.XTest"


def test_summarize_counts_every_test_of_the_slice():
    tests = [f"{T}.test_ok[id-1,smoke]", f"{T}.test_bad[id-2]", f"{T}.test_skip[id-3]", f"{T}.test_gone[id-4]",
             f"{T}.test_xfail[id-5]"]
    statuses = {f"{T}.test_ok[id-1,smoke]": "success", f"{T}.test_bad[id-2]": "fail",
                f"{T}.test_skip[id-3]": "skip", f"{T}.test_xfail[id-5]": "xfail"}
    outcome = results.summarize(tests, statuses)
    assert outcome.summary() == "2 passed, 2 failed, 1 skipped"
    assert outcome.failed == [f"{T}.test_bad[id-2]", f"{T}.test_gone[id-4]"]
    assert outcome.not_run == [f"{T}.test_gone[id-4]"]
    report = outcome.report()
    assert f"FAILED: {T}.test_gone[id-4] (did not run)" in report
    assert f"skipped: {T}.test_skip[id-3]" in report


def test_a_failed_class_setup_fails_its_tests():
    tests = [f"{T}.test_a[id-1]", f"{T}.test_b[id-2]", "tempest.api.identity.v3.test_y.YTest.test_c[id-3]"]
    statuses = {f"setUpClass ({T})": "fail", "tempest.api.identity.v3.test_y.YTest.test_c[id-3]": "success"}
    outcome = results.summarize(tests, statuses)
    assert outcome.summary() == "1 passed, 2 failed, 0 skipped"
    assert outcome.errors == [f"setUpClass ({T})"]
    assert outcome.not_run == []


def test_a_skipped_class_skips_its_tests():
    tests = [f"{T}.test_a[id-1]", f"{T}.test_b[id-2]"]
    outcome = results.summarize(tests, {f"setUpClass ({T})": "skip"})
    assert outcome.summary() == "0 passed, 0 failed, 2 skipped"
    assert outcome.errors == []


def test_ids_match_without_their_attributes():
    outcome = results.summarize([f"{T}.test_a[id-1,smoke]"], {f"{T}.test_a[id-1]": "success"})
    assert outcome.summary() == "1 passed, 0 failed, 0 skipped"


def test_parse_subunit_csv():
    text = ("test,status,start_time,stop_time\r\n"
            f"{T}.test_a[id-1],success,2024-01-01 00:00:00+00:00,2024-01-01 00:00:01+00:00\r\n"
            f"setUpClass ({T}),fail,,\r\n")
    assert results.parse_csv(text) == {f"{T}.test_a[id-1]": "success", f"setUpClass ({T})": "fail"}


def test_no_recorded_run_means_everything_failed(tmp_path):
    (tmp_path / ".stestr").mkdir()
    (tmp_path / ".stestr" / "next-stream").write_text("3\n")
    assert results.runs_so_far(tmp_path) == 3
    assert results.runs_so_far(tmp_path / "missing") == 0
    outcome = results.collect(tmp_path / "bin", tmp_path, [f"{T}.test_a[id-1]"], runs_before=3)
    assert outcome.summary() == "0 passed, 1 failed, 0 skipped"
    assert outcome.not_run == [f"{T}.test_a[id-1]"]


def test_validation_only_when_floating_ips_are_reachable_from_here():
    base = dict(identity_url="u", admin_password="pw", catalog=FULL, flavors=[{"id": "1"}],
                images=[{"id": "i"}], external_networks=[{"id": "net-pub", "name": "public"}])
    assert _parse(CloudFacts(**base))["validation"]["run_validation"] == "false"
    assert _parse(CloudFacts(**{**base, "external_networks": []}, run_validation=True))["validation"][
        "run_validation"] == "false"
    conf = _parse(CloudFacts(**base, run_validation=True))["validation"]
    assert (conf["run_validation"], conf["connect_method"], conf["auth_method"], conf["image_ssh_user"],
            conf["ssh_key_type"]) == ("true", "floating", "keypair", "root", "rsa")


def test_the_external_range_is_free_on_this_host():
    import ipaddress
    import json
    import subprocess

    from interop.run import free_public_cidr

    picked = ipaddress.ip_network(free_public_cidr())
    assert picked.prefixlen == 24 and picked.subnet_of(ipaddress.ip_network("172.24.0.0/16"))
    links = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True,
                                      check=True).stdout)
    assert not any(picked.overlaps(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
                   for link in links for a in link.get("addr_info", []))
