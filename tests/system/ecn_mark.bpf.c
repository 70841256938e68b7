/* A CE marker for tests/system/ecn.sh, attached with tc (clsact egress, direct action) in front of
 * a tbf qdisc of the same rate. It keeps the backlog that tbf's queue holds (the bytes that
 * arrived minus what RATE_BPS drained since) and marks ECT packets CE while that backlog is at or
 * above THRESHOLD bytes: the ce_threshold of an AQM such as fq_codel, for kernels built without
 * one. IPv4 (TOS byte, header checksum updated) and IPv6 (traffic class). Built by the test with
 * clang -target bpf; RATE_BPS and THRESHOLD come from -D. With -DBLEACH it instead clears the ECN
 * field of every packet, as a router or tunnel that bleaches it. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#ifndef RATE_BPS
#define RATE_BPS 30000000ull
#endif
#ifndef THRESHOLD
#define THRESHOLD 16384ull
#endif

#define SEC(name) __attribute__((section(name), used))

static long (*skb_store_bytes)(struct __sk_buff *, __u32, const void *, __u32,
                               __u64) = (void *)BPF_FUNC_skb_store_bytes;
static long (*l3_csum_replace)(struct __sk_buff *, __u32, __u64, __u64,
                               __u64) = (void *)BPF_FUNC_l3_csum_replace;
static __u64 (*ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;

__u64 backlog, last;

#ifdef BLEACH
#define REWRITE(ecn) 0
#else
#define REWRITE(ecn) 3
#endif

SEC("tc") int mark(struct __sk_buff *skb)
{
#ifndef BLEACH
    __u64 now = ktime_get_ns();
    __u64 drained = last ? (now - last) * (RATE_BPS / 8) / 1000000000ull : 0;
    last = now;
    __u64 q = backlog > drained ? backlog - drained : 0;
    backlog = q + skb->len;
    if (q < THRESHOLD)
        return TC_ACT_OK;
#endif
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    if (data + ETH_HLEN + 2 > end)
        return TC_ACT_OK;
    __u8 *ip = data + ETH_HLEN;
    if ((ip[0] >> 4) == 4) {
        __u8 tos = ip[1];
        if ((tos & 3) == 0 || (tos & 3) == REWRITE(tos))
            return TC_ACT_OK;
        __u8 ce = (tos & ~3) | REWRITE(tos);
        __u16 old_word, new_word;
        ((__u8 *)&old_word)[0] = ip[0];
        ((__u8 *)&old_word)[1] = tos;
        ((__u8 *)&new_word)[0] = ip[0];
        ((__u8 *)&new_word)[1] = ce;
        l3_csum_replace(skb, ETH_HLEN + 10, old_word, new_word, 2);
        skb_store_bytes(skb, ETH_HLEN + 1, &ce, 1, 0);
    } else if ((ip[0] >> 4) == 6) {
        /* the traffic class's low bits (ECN) are bits 4-5 of the header's second byte */
        __u8 b = ip[1];
        __u8 ecn = (b >> 4) & 3;
        if (ecn == 0 || ecn == REWRITE(ecn))
            return TC_ACT_OK;
        b = (b & ~0x30) | (REWRITE(ecn) << 4);
        skb_store_bytes(skb, ETH_HLEN + 1, &b, 1, 0);
    }
    return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
