"""networking-sfc over raw HTTP: flow classifiers, port pairs, groups, chains and service graphs, with the
rules networking-sfc enforces (error types and statuses as it answers them)."""

from __future__ import annotations

import uuid
from functools import partial

import pytest

S = "/network/v2.0/sfc"
N = "/network/v2.0"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Sfc:
    """Creates through the API and deletes everything it made, newest first."""

    def __init__(self, client, network_id: str):
        self.client, self.network_id, self.made = client, network_id, []

    def network(self) -> str:
        network = self.client.post(f"{N}/networks", json={"network": {"name": unique("sfcnet")}}).json()["network"]
        self.made.append(f"{N}/networks/{network['id']}")
        return network["id"]

    def port(self, device_id: str = "", network_id: str | None = None) -> dict:
        body = {"port": {"network_id": network_id or self.network_id, "device_id": device_id,
                         "name": unique("sfcport")}}
        port = self.client.post(f"{N}/ports", json=body).json()["port"]
        self.made.append(f"{N}/ports/{port['id']}")
        return port

    def create(self, collection: str, singular: str, **attrs):
        return self.client.post(f"{S}/{collection}", json={singular: attrs})

    def make(self, collection: str, singular: str, **attrs) -> dict:
        reply = self.create(collection, singular, **attrs)
        assert reply.status_code == 201, reply.text
        made = reply.json()[singular]
        self.made.append(f"{S}/{collection}/{made['id']}")
        return made

    def classifier(self, source: dict | None = None, **attrs) -> dict:
        source = source or self.port("vm-src")
        return self.make("flow_classifiers", "flow_classifier", logical_source_port=source["id"], **attrs)

    def pair(self, device: str | None = None, **attrs) -> dict:
        device = device or unique("vm")
        return self.make("port_pairs", "port_pair", ingress=self.port(device)["id"], egress=self.port(device)["id"],
                         **attrs)

    def group(self, pairs: list[dict], **attrs) -> dict:
        return self.make("port_pair_groups", "port_pair_group", port_pairs=[p["id"] for p in pairs], **attrs)

    def chain(self, groups: list[dict], classifiers: list[dict] = (), **attrs) -> dict:
        return self.make("port_chains", "port_chain", port_pair_groups=[g["id"] for g in groups],
                         flow_classifiers=[c["id"] for c in classifiers], **attrs)

    def cleanup(self) -> None:
        for path in reversed(self.made):
            status = self.client.delete(path).status_code
            assert status in (204, 404), f"DELETE {path}: {status}"


@pytest.fixture
def sfc(admin):
    network = admin.post(f"{N}/networks", json={"network": {"name": unique("sfcnet")}}).json()["network"]
    admin.post(f"{N}/subnets", json={"subnet": {"network_id": network["id"], "ip_version": 4,
                                                "cidr": "10.93.0.0/24"}})
    helper = Sfc(admin, network["id"])
    yield helper
    helper.cleanup()
    admin.delete(f"{N}/networks/{network['id']}")


def error(reply, status: int, kind: str) -> str:
    assert reply.status_code == status, reply.text
    assert reply.json()["NeutronError"]["type"] == kind, reply.text
    return reply.json()["NeutronError"]["message"]


def test_extensions_are_listed(admin):
    aliases = {e["alias"] for e in admin.get(f"{N}/extensions").json()["extensions"]}
    assert {"sfc", "flow_classifier", "service-graph"} <= aliases
    assert admin.get(f"{N}/extensions/sfc").json()["extension"]["name"] == "Service Function Chaining"


def test_flow_classifier_lifecycle(admin, sfc):
    source, dest = sfc.port("vm-a"), sfc.port("vm-b")
    fc = sfc.classifier(source, name="web", protocol="TCP", ethertype="ipv4", destination_port_range_min=80,
                        destination_port_range_max=80, source_ip_prefix="10.93.0.0/24",
                        logical_destination_port=dest["id"])
    assert fc["protocol"] == "tcp" and fc["ethertype"] == "IPv4" and fc["l7_parameters"] == {}
    assert (fc["destination_port_range_min"], fc["destination_port_range_max"]) == (80, 80)
    assert fc["source_port_range_min"] is None and fc["destination_ip_prefix"] is None
    assert fc["logical_source_port"] == source["id"] and fc["logical_destination_port"] == dest["id"]
    assert fc["tenant_id"] == fc["project_id"] and fc["description"] == ""
    assert admin.get(f"{S}/flow_classifiers/{fc['id']}").json()["flow_classifier"] == fc
    listed = admin.get(f"{S}/flow_classifiers", params={"logical_source_port": source["id"]}).json()
    assert [f["id"] for f in listed["flow_classifiers"]] == [fc["id"]]
    shown = admin.get(f"{S}/flow_classifiers/{fc['id']}", params={"fields": "name"}).json()["flow_classifier"]
    assert shown == {"name": "web"}
    renamed = admin.put(f"{S}/flow_classifiers/{fc['id']}",
                        json={"flow_classifier": {"name": "http", "description": "port 80"}})
    assert renamed.status_code == 200 and renamed.json()["flow_classifier"]["name"] == "http"
    error(admin.put(f"{S}/flow_classifiers/{fc['id']}", json={"flow_classifier": {"protocol": "udp"}}),
          400, "HTTPBadRequest")
    assert admin.delete(f"{S}/flow_classifiers/{fc['id']}").status_code == 204
    error(admin.get(f"{S}/flow_classifiers/{fc['id']}"), 404, "FlowClassifierNotFound")
    error(admin.delete(f"{S}/flow_classifiers/{fc['id']}"), 404, "FlowClassifierNotFound")


def test_flow_classifier_validation(admin, sfc):
    source = sfc.port("vm-a")
    make = partial(sfc.create, "flow_classifiers", "flow_classifier")
    lsp = {"logical_source_port": source["id"]}
    assert "logical source port" in error(make(protocol="tcp"), 400, "FlowClassifierBadRequest")
    error(make(logical_source_port=uuid.uuid4().hex), 404, "FlowClassifierPortNotFound")
    error(make(logical_destination_port=str(uuid.uuid4()), **lsp), 404, "FlowClassifierPortNotFound")
    error(make(protocol="sctp", **lsp), 400, "FlowClassifierInvalidProtocol")
    error(make(ethertype="IPv5", **lsp), 400, "FlowClassifierInvalidEthertype")
    error(make(source_port_range_min=22, **lsp), 400, "FlowClassifierProtocolRequiredWithPorts")
    error(make(protocol="udp", source_port_range_min=90, source_port_range_max=80, **lsp), 400,
          "FlowClassifierInvalidPortRange")
    error(make(protocol="udp", source_port_range_min=70000, **lsp), 400, "FlowClassifierInvalidPortValue")
    error(make(ethertype="IPv6", source_ip_prefix="10.0.0.0/8", **lsp), 400,
          "FlowClassifierIpPrefixFormatConflictWithEthertype")
    error(make(source_ip_prefix="10.0.0.300/8", **lsp), 400, "HTTPBadRequest")
    error(make(l7_parameters={"url": "/x"}, **lsp), 400, "FlowClassifierInvalidL7Parameter")
    error(make(logical_source_port="not-a-uuid"), 400, "HTTPBadRequest")
    error(make(colour="blue", **lsp), 400, "HTTPBadRequest")
    first = sfc.classifier(source, protocol="tcp", destination_port_range_min=80, destination_port_range_max=90)
    again = make(protocol="tcp", destination_port_range_min=85, destination_port_range_max=85, **lsp)
    assert first["id"] in error(again, 400, "FlowClassifierInConflict")
    sfc.classifier(source, protocol="tcp", destination_port_range_min=91, destination_port_range_max=95)
    assert admin.get(f"{S}/flow_classifiers", params={"logical_source_port": source["id"]}).json()[
        "flow_classifiers"].__len__() == 2


def test_port_pair_rules(admin, sfc):
    pp = sfc.pair("vm-fw", name="fw")
    assert pp["service_function_parameters"] == {"correlation": None, "weight": 1}
    assert admin.get(f"{S}/port_pairs/{pp['id']}").json()["port_pair"] == pp
    make = partial(sfc.create, "port_pairs", "port_pair")
    error(make(ingress=pp["ingress"]), 400, "HTTPBadRequest")
    error(make(ingress=pp["ingress"], egress=pp["egress"]), 400, "PortPairIngressEgressInUse")
    error(make(ingress=pp["ingress"], egress=uuid.uuid4().hex), 404, "PortPairPortNotFound")
    unbound, elsewhere = sfc.port(""), sfc.port("vm-other")
    error(make(ingress=unbound["id"], egress=pp["egress"]), 400, "PortPairIngressNoHost")
    error(make(ingress=pp["ingress"], egress=unbound["id"]), 400, "PortPairEgressNoHost")
    error(make(ingress=pp["ingress"], egress=elsewhere["id"]), 400, "PortPairIngressEgressDifferentHost")
    ids_in, ids_out = sfc.port("vm-ids"), sfc.port("vm-ids")
    error(make(ingress=ids_in["id"], egress=ids_out["id"], service_function_parameters={"correlation": "vxlan"}),
          400, "HTTPBadRequest")
    error(make(ingress=ids_in["id"], egress=ids_out["id"], service_function_parameters={"weight": -1}),
          400, "HTTPBadRequest")
    weighted = sfc.make("port_pairs", "port_pair", ingress=ids_in["id"], egress=ids_out["id"],
                        service_function_parameters={"weight": 3, "correlation": "mpls"})
    assert weighted["service_function_parameters"] == {"correlation": "mpls", "weight": 3}
    a, b = sfc.port("vm-bulk"), sfc.port("vm-bulk")
    bulk = admin.post(f"{S}/port_pairs", json={"port_pairs": [{"ingress": a["id"], "egress": b["id"]},
                                                               {"ingress": b["id"], "egress": a["id"]}]})
    assert bulk.status_code == 201 and len(bulk.json()["port_pairs"]) == 2
    sfc.made += [f"{S}/port_pairs/{p['id']}" for p in bulk.json()["port_pairs"]]
    failed = admin.post(f"{S}/port_pairs", json={"port_pairs": [{"ingress": a["id"], "egress": a["id"]},
                                                                 {"ingress": a["id"], "egress": b["id"]}]})
    error(failed, 400, "PortPairIngressEgressInUse")  # all or nothing: the first one was not kept
    assert not admin.get(f"{S}/port_pairs", params={"ingress": a["id"], "egress": a["id"]}).json()["port_pairs"]
    page = admin.get(f"{S}/port_pairs", params={"ingress": [a["id"], b["id"]], "limit": 1, "sort_key": "ingress"})
    assert len(page.json()["port_pairs"]) == 1 and page.json()["port_pairs_links"][0]["rel"] == "next"
    updated = admin.put(f"{S}/port_pairs/{pp['id']}", json={"port_pair": {"name": "firewall"}})
    assert updated.json()["port_pair"]["name"] == "firewall"
    error(admin.put(f"{S}/port_pairs/{pp['id']}", json={"port_pair": {"egress": ids_out["id"]}}),
          400, "HTTPBadRequest")
    error(admin.get(f"{S}/port_pairs/{uuid.uuid4()}"), 404, "PortPairNotFound")
    # a port a pair or a classifier steers through stays until they let go of it
    assert admin.delete(f"{N}/ports/{pp['ingress']}").status_code == 409
    fc = sfc.classifier()
    assert admin.delete(f"{N}/ports/{fc['logical_source_port']}").status_code == 409
    assert admin.delete(f"{S}/flow_classifiers/{fc['id']}").status_code == 204
    assert admin.get(f"{N}/ports/{pp['ingress']}").status_code == 200


def test_port_pair_group_rules(admin, sfc):
    one, two = sfc.pair(), sfc.pair()
    group = sfc.group([one], name="fw")
    assert group["port_pairs"] == [one["id"]] and group["tap_enabled"] is False and group["group_id"] >= 1
    assert group["port_pair_group_parameters"] == {
        "lb_fields": [], "ppg_n_tuple_mapping": {"ingress_n_tuple": {}, "egress_n_tuple": {}}}
    make = partial(sfc.create, "port_pair_groups", "port_pair_group")
    assert one["id"] in error(make(port_pairs=[one["id"]]), 409, "PortPairInUse")
    error(admin.delete(f"{S}/port_pairs/{one['id']}"), 409, "PortPairInUse")
    error(make(port_pairs=[str(uuid.uuid4())]), 404, "PortPairNotFound")
    error(make(port_pair_group_parameters={"lb_fields": ["ip_src", "vlan"]}), 400, "HTTPBadRequest")
    error(make(port_pair_group_parameters={"ppg_n_tuple_mapping": {"ingress_n_tuple": {"colour": 1}}}), 400,
          "PPGParametersInvalidNTupleMappingParameter")
    three = sfc.pair()
    error(make(port_pairs=[two["id"], three["id"]], tap_enabled=True), 400,
          "MultiplePortPairsInTapPPGNotSupported")
    nsh = sfc.pair(service_function_parameters={"correlation": "nsh"})
    error(make(port_pairs=[two["id"], nsh["id"]]), 400, "InconsistentCorrelations")
    elsewhere = sfc.network()
    far = sfc.make("port_pairs", "port_pair", ingress=sfc.port("vm-far", elsewhere)["id"],
                   egress=sfc.port("vm-far", elsewhere)["id"])
    assert "ingress ports must be on same network" in error(make(port_pairs=[two["id"], far["id"]]), 400,
                                                            "SfcBadRequest")
    balanced = sfc.group([two, three], port_pair_group_parameters={"lb_fields": ["ip_src", "ip_dst"]})
    assert balanced["group_id"] != group["group_id"]
    assert balanced["port_pair_group_parameters"]["lb_fields"] == ["ip_src", "ip_dst"]
    # a pair moves once its group lets go of it
    moved = admin.put(f"{S}/port_pair_groups/{group['id']}", json={"port_pair_group": {"port_pairs": []}})
    assert moved.status_code == 200 and moved.json()["port_pair_group"]["port_pairs"] == []
    grown = admin.put(f"{S}/port_pair_groups/{balanced['id']}",
                      json={"port_pair_group": {"port_pairs": [two["id"], three["id"], one["id"]]}})
    assert grown.json()["port_pair_group"]["port_pairs"] == [two["id"], three["id"], one["id"]]
    error(admin.put(f"{S}/port_pair_groups/{group['id']}", json={"port_pair_group": {"tap_enabled": True}}),
          400, "HTTPBadRequest")
    error(admin.put(f"{S}/port_pair_groups/{group['id']}", json={"port_pair_group": {"group_id": 9}}),
          400, "HTTPBadRequest")


def test_chain_firewall_then_ids(admin, sfc):
    source, dest = sfc.port("vm-client"), sfc.port("vm-server")
    fw = sfc.group([sfc.pair("vm-fw")], name="firewall")
    ids1, ids2 = sfc.pair("vm-ids1"), sfc.pair("vm-ids2")
    ids = sfc.group([ids1], name="ids", port_pair_group_parameters={"lb_fields": ["ip_src", "tcp_src"]})
    web = sfc.classifier(source, protocol="tcp", destination_port_range_min=80, destination_port_range_max=80,
                         logical_destination_port=dest["id"])
    chain = sfc.chain([fw, ids], [web], name="fw-ids")
    assert chain["port_pair_groups"] == [fw["id"], ids["id"]] and chain["flow_classifiers"] == [web["id"]]
    assert chain["chain_parameters"] == {"correlation": "mpls", "symmetric": False} and chain["chain_id"] >= 1
    assert admin.get(f"{S}/port_chains/{chain['id']}").json()["port_chain"] == chain
    # a second IDS instance joins the group
    grown = admin.put(f"{S}/port_pair_groups/{ids['id']}",
                      json={"port_pair_group": {"port_pairs": [ids1["id"], ids2["id"]]}})
    assert grown.status_code == 200 and grown.json()["port_pair_group"]["port_pairs"] == [ids1["id"], ids2["id"]]
    # remove the firewall hop, then insert it again
    def put(body):
        return admin.put(f"{S}/port_chains/{chain['id']}", json={"port_chain": body})

    assert put({"port_pair_groups": [ids["id"]]}).json()["port_chain"]["port_pair_groups"] == [ids["id"]]
    assert put({"port_pair_groups": [fw["id"], ids["id"]], "name": "again"}).json()["port_chain"][
        "port_pair_groups"] == [fw["id"], ids["id"]]
    error(put({"chain_parameters": {"symmetric": True}}), 400, "HTTPBadRequest")
    error(put({"chain_id": 77}), 400, "HTTPBadRequest")
    error(put({"port_pair_groups": []}), 400, "PortPairGroupNotSpecified")
    # what is in use stays
    error(admin.delete(f"{S}/port_pair_groups/{fw['id']}"), 409, "PortPairGroupInUse")
    error(admin.delete(f"{S}/flow_classifiers/{web['id']}"), 409, "FlowClassifierInUse")
    make = partial(sfc.create, "port_chains", "port_chain")
    other = sfc.group([sfc.pair()])
    error(make(port_pair_groups=[other["id"]], flow_classifiers=[web["id"]]), 409, "FlowClassifierInUse")
    error(make(port_pair_groups=[fw["id"], ids["id"]]), 409, "InvalidPortPairGroups")
    overlapping = sfc.classifier(sfc.port("vm-client2"), protocol="tcp", destination_port_range_min=70,
                                 destination_port_range_max=100)
    error(make(port_pair_groups=[other["id"]], flow_classifiers=[overlapping["id"]]), 400,
          "PortChainFlowClassifierInConflict")
    error(make(port_pair_groups=[other["id"]], chain_id=chain["chain_id"]), 400, "PortChainChainIdInConflict")
    error(make(port_pair_groups=[other["id"]], chain_id=70000), 400, "HTTPBadRequest")
    error(make(flow_classifiers=[]), 400, "HTTPBadRequest")
    error(make(port_pair_groups=[]), 400, "PortPairGroupNotSpecified")
    error(make(port_pair_groups=[str(uuid.uuid4())]), 404, "PortPairGroupNotFound")
    error(make(port_pair_groups=[other["id"]], flow_classifiers=[str(uuid.uuid4())]), 404, "FlowClassifierNotFound")
    ssh = sfc.classifier(sfc.port("vm-client3"), protocol="tcp", destination_port_range_min=22,
                         destination_port_range_max=22)
    error(make(port_pair_groups=[other["id"]], flow_classifiers=[ssh["id"]], chain_parameters={"symmetric": True}),
          400, "SfcBadRequest")
    error(make(port_pair_groups=[other["id"]], chain_parameters={"correlation": "gre"}), 400, "HTTPBadRequest")
    second = sfc.chain([other], [ssh], chain_parameters={"symmetric": False, "correlation": "mpls"})
    assert second["chain_id"] != chain["chain_id"]
    # a group may serve two chains as long as their group lists differ
    sfc.chain([other, ids])
    assert admin.delete(f"{S}/port_chains/{chain['id']}").status_code == 204
    assert admin.delete(f"{S}/flow_classifiers/{web['id']}").status_code == 204
    error(admin.get(f"{S}/port_chains/{chain['id']}"), 404, "PortChainNotFound")


def test_service_graph(admin, sfc):
    mpls = {"correlation": "mpls"}
    first = sfc.chain([sfc.group([sfc.pair(service_function_parameters=mpls)])], [sfc.classifier(protocol="udp")])
    branch = sfc.chain([sfc.group([sfc.pair(service_function_parameters=mpls)])], [sfc.classifier(protocol="tcp")])
    graph = sfc.make("service_graphs", "service_graph", name="g", port_chains={first["id"]: [branch["id"]]})
    assert graph["port_chains"] == {first["id"]: [branch["id"]]}
    assert admin.get(f"{S}/service_graphs/{graph['id']}").json()["service_graph"] == graph
    make = partial(sfc.create, "service_graphs", "service_graph")
    error(make(port_chains={first["id"]: [branch["id"]]}), 409, "ServiceGraphInvalidPortChains")
    error(admin.delete(f"{S}/port_chains/{branch['id']}"), 409, "ServiceGraphPortChainInUse")
    error(admin.put(f"{S}/port_chains/{first['id']}", json={"port_chain": {"flow_classifiers": []}}), 409,
          "ServiceGraphPortChainInUse")
    assert admin.put(f"{S}/port_chains/{first['id']}", json={"port_chain": {"name": "ok"}}).status_code == 200
    error(admin.put(f"{S}/service_graphs/{graph['id']}", json={"service_graph": {"port_chains": {}}}), 400,
          "HTTPBadRequest")
    assert admin.put(f"{S}/service_graphs/{graph['id']}", json={"service_graph": {"name": "h"}}).json()[
        "service_graph"]["name"] == "h"
    assert admin.delete(f"{S}/service_graphs/{graph['id']}").status_code == 204
    error(make(port_chains={first["id"]: [branch["id"]], branch["id"]: [first["id"]]}), 400,
          "ServiceGraphLoopDetected")
    error(make(port_chains={"nope": [branch["id"]]}), 400, "InvalidUUID")
    error(make(port_chains={first["id"]: [str(uuid.uuid4())]}), 404, "PortChainNotFound")
    plain = sfc.chain([sfc.group([sfc.pair()])], [sfc.classifier(protocol="icmp")])
    error(make(port_chains={first["id"]: [plain["id"]]}), 400, "ServiceGraphImpossibleBranching")
    error(make(port_chains={first["id"]: [branch["id"], branch["id"]]}), 400, "ServiceGraphPortChainInConflict")


def test_projects_see_only_their_own(cloud, admin, sfc):
    fc = sfc.classifier()
    with cloud.http(cloud.token("demo", cloud.password("kumo"), "demo")) as member:
        error(member.get(f"{S}/flow_classifiers/{fc['id']}"), 404, "FlowClassifierNotFound")
        assert fc["id"] not in {f["id"] for f in member.get(f"{S}/flow_classifiers").json()["flow_classifiers"]}
        error(member.post(f"{S}/port_pairs", json={"port_pair": {"ingress": fc["logical_source_port"],
                                                                 "egress": fc["logical_source_port"]}}),
              404, "PortPairPortNotFound")
