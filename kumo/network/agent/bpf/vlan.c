// SPDX-License-Identifier: Apache-2.0
/* VLAN push/pop for trunk ports, as a tc clsact direct-action program on ingress (8021q is not in
 * this kernel). One map per network namespace, keyed by (ifindex, vid) of the frame as it arrives:
 *
 *   tagged frame, vid V, on a trunk link   -> entry (link, V)   -> pop the tag, redirect out of .ifindex
 *   untagged frame on a subport link       -> entry (link, 0)   -> push .vid, redirect out of .ifindex
 *
 * A tagged frame with no entry is dropped (an instance cannot reach other networks with tags of its
 * own); an untagged frame with no entry goes on as usual (the parent port's own traffic). Each entry
 * counts the frames it moved.
 *
 * Built by scripts/setup.sh (or on first use): clang -O2 -g -target bpf -c vlan.c -o vlan.o
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct vlan_key {
	__u32 ifindex;
	__u32 vid; /* 0: untagged */
};

struct vlan_action {
	__u32 ifindex; /* where the frame goes (out of that link) */
	__u32 vid;     /* the tag to push; 0: pop */
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vlan_key);
	__type(value, struct vlan_action);
} vlan_map SEC(".maps");

SEC("tc")
int vlan(struct __sk_buff *skb)
{
	struct vlan_key key = {.ifindex = skb->ifindex, .vid = 0};
	struct vlan_action *act;
	__u16 tci;

	if (skb->vlan_present) {
		if (skb->vlan_proto != bpf_htons(ETH_P_8021Q))
			return TC_ACT_SHOT;
		key.vid = skb->vlan_tci & 0x0fff;
	} else if (skb->protocol == bpf_htons(ETH_P_8021Q)) { /* the tag still in the frame */
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &tci, sizeof(tci)) < 0)
			return TC_ACT_SHOT;
		key.vid = bpf_ntohs(tci) & 0x0fff;
	} else if (skb->protocol == bpf_htons(ETH_P_8021AD)) {
		return TC_ACT_SHOT;
	}
	act = bpf_map_lookup_elem(&vlan_map, &key);
	if (!act)
		return key.vid ? TC_ACT_SHOT : TC_ACT_OK;
	if (key.vid) {
		if (act->vid || bpf_skb_vlan_pop(skb) < 0)
			return TC_ACT_SHOT;
	} else if (act->vid) {
		if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), act->vid) < 0)
			return TC_ACT_SHOT;
	}
	__sync_fetch_and_add(&act->packets, 1);
	__sync_fetch_and_add(&act->bytes, skb->len);
	return bpf_redirect(act->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
