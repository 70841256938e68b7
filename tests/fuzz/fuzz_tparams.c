/* libFuzzer target for transport parameters. The first byte says who sent them; whatever decodes
 * is encoded again, decoded again, and must come out identical (values and bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_entry.h"
#include "tparams.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void same(const tern_tparams *a, const tern_tparams *b)
{
    CHECK(a->has_original_dcid == b->has_original_dcid);
    CHECK(a->has_retry_scid == b->has_retry_scid);
    CHECK(a->has_stateless_reset_token == b->has_stateless_reset_token);
    CHECK(a->has_preferred_address == b->has_preferred_address);
    CHECK(!a->has_original_dcid || tern_cid_eq(&a->original_dcid, &b->original_dcid));
    CHECK(!a->has_retry_scid || tern_cid_eq(&a->retry_scid, &b->retry_scid));
    CHECK(tern_cid_eq(&a->initial_scid, &b->initial_scid));
    CHECK(!a->has_stateless_reset_token ||
          !memcmp(a->stateless_reset_token, b->stateless_reset_token, TERN_RESET_TOKEN_LEN));
    if (a->has_preferred_address) {
        const tern_preferred_addr *x = &a->preferred_address, *y = &b->preferred_address;
        CHECK(!memcmp(x->ipv4, y->ipv4, 4) && x->ipv4_port == y->ipv4_port);
        CHECK(!memcmp(x->ipv6, y->ipv6, 16) && x->ipv6_port == y->ipv6_port);
        CHECK(tern_cid_eq(&x->cid, &y->cid) && x->cid.len >= 1);
        CHECK(!memcmp(x->token, y->token, TERN_RESET_TOKEN_LEN));
    }
    CHECK(a->max_idle_timeout == b->max_idle_timeout);
    CHECK(a->max_udp_payload_size == b->max_udp_payload_size);
    CHECK(a->initial_max_data == b->initial_max_data);
    CHECK(a->initial_max_stream_data_bidi_local == b->initial_max_stream_data_bidi_local);
    CHECK(a->initial_max_stream_data_bidi_remote == b->initial_max_stream_data_bidi_remote);
    CHECK(a->initial_max_stream_data_uni == b->initial_max_stream_data_uni);
    CHECK(a->initial_max_streams_bidi == b->initial_max_streams_bidi);
    CHECK(a->initial_max_streams_uni == b->initial_max_streams_uni);
    CHECK(a->ack_delay_exponent == b->ack_delay_exponent);
    CHECK(a->max_ack_delay == b->max_ack_delay);
    CHECK(a->disable_active_migration == b->disable_active_migration);
    CHECK(a->active_connection_id_limit == b->active_connection_id_limit);
    const tern_qv_info *u = &a->version_info, *v = &b->version_info;
    CHECK(u->present == v->present && u->chosen == v->chosen && u->n == v->n);
    CHECK(u->n <= TERN_QV_INFO_MAX);
    CHECK(!u->n || !memcmp(u->available, v->available, u->n * sizeof(uint32_t)));
    CHECK(a->has_initial_max_path_id == b->has_initial_max_path_id);
    CHECK(a->initial_max_path_id == b->initial_max_path_id);
    CHECK(a->initial_max_path_id <= 0xffffffffull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf1[1024], buf2[1024];
    if (size < 1)
        return 0;
    int from_server = data[0] & 1;
    tern_tparams a, b;
    uint64_t terr = 0;
    if (tern_tparams_decode(&a, from_server, data + 1, size - 1, &terr) != 0) {
        /* PROTOCOL_VIOLATION only for multipath offered with a zero-length CID */
        CHECK(terr == TERN_TE_TRANSPORT_PARAMETER_ERROR ||
              (terr == TERN_TE_PROTOCOL_VIOLATION && a.has_initial_max_path_id &&
               a.initial_scid.len == 0));
        return 0;
    }
    /* Valid values stay in their ranges. */
    CHECK(a.max_udp_payload_size >= 1200 && a.ack_delay_exponent <= 20);
    CHECK(a.max_ack_delay < (1u << 14) && a.active_connection_id_limit >= 2);
    CHECK(a.initial_max_streams_bidi <= (1ull << 60) && a.initial_max_streams_uni <= (1ull << 60));
    CHECK(from_server || !(a.has_original_dcid || a.has_retry_scid ||
                           a.has_stateless_reset_token || a.has_preferred_address));

    size_t n1 = tern_tparams_encode(&a, from_server, buf1, sizeof(buf1));
    CHECK(n1 > 0);
    CHECK(tern_tparams_decode(&b, from_server, buf1, n1, &terr) == 0);
    same(&a, &b);
    size_t n2 = tern_tparams_encode(&b, from_server, buf2, sizeof(buf2));
    CHECK(n2 == n1 && !memcmp(buf1, buf2, n1));
    return 0;
}
