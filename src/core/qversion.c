/* QUIC versions and compatible version negotiation (see qversion.h). v2 (RFC 9369) is v1 with
 * another version number, salt, labels, Retry key and long header type codepoints, so every rule
 * of the protocol stays in one place and only asks this module what a version spells. */
#include "qversion.h"
#include "varint.h"

int tern_qv_supported(uint32_t v)
{
    return v == TERN_PROTO_VERSION_1 || v == TERN_PROTO_VERSION_2;
}

int tern_qv_compatible(uint32_t from, uint32_t to)
{
    return tern_qv_supported(from) && tern_qv_supported(to);
}

/* v2 rotates the codepoints by one: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00. */
unsigned tern_qv_type_bits(uint32_t v, int type)
{
    unsigned t = (unsigned)type & 3;
    return v == TERN_PROTO_VERSION_2 ? (t + 1) & 3 : t;
}

int tern_qv_type_from_bits(uint32_t v, unsigned bits)
{
    bits &= 3;
    return (int)(v == TERN_PROTO_VERSION_2 ? (bits + 3) & 3 : bits);
}

const tern_qv_labels *tern_qv_labels_for(uint32_t v)
{
    static const tern_qv_labels v1 = {"quic key", "quic iv", "quic hp", "quic ku"};
    static const tern_qv_labels v2 = {"quicv2 key", "quicv2 iv", "quicv2 hp", "quicv2 ku"};
    return v == TERN_PROTO_VERSION_2 ? &v2 : &v1;
}

int tern_qv_in(uint32_t v, const uint32_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == v)
            return 1;
    return 0;
}

int tern_qv_check_list(const uint32_t *v, size_t n)
{
    if (n > TERN_QV_MAX)
        return TERN_ERR_CONFIG;
    for (size_t i = 0; i < n; i++)
        if (!tern_qv_supported(v[i]) || tern_qv_in(v[i], v, i))
            return TERN_ERR_CONFIG;
    return 0;
}

size_t tern_qv_list(const tern_config *cfg, uint32_t *out)
{
    size_t n = cfg && cfg->quic_versions_count <= TERN_QV_MAX ? cfg->quic_versions_count : 0;
    if (n == 0) {
        out[0] = TERN_PROTO_VERSION_1;
        return 1;
    }
    memcpy(out, cfg->quic_versions, n * sizeof(uint32_t));
    return n;
}

uint32_t tern_qv_server_choose(const uint32_t *ours, size_t n, uint32_t original,
                               const tern_qv_info *client)
{
    for (size_t i = 0; i < n; i++) {
        if (ours[i] == original)
            return original;
        if (client && client->present && tern_qv_compatible(original, ours[i]) &&
            tern_qv_in(ours[i], client->available, client->n))
            return ours[i];
    }
    return original;
}

int tern_qv_server_check(uint32_t original, const tern_qv_info *client, const char **why)
{
    if (client->present && client->chosen != original) {
        *why = "client's chosen version is not its Initial's";
        return TERN_ERR_PROTO;
    }
    return 0;
}

int tern_qv_client_check(const uint32_t *ours, size_t n, uint32_t negotiated, int after_vn,
                         const tern_qv_info *server, const char **why)
{
    tern_qv_info v1_only;
    if (!server->present) {
        if (!after_vn)
            return 0;
        /* RFC 9368 §8: a v1 server that predates version information is taken to have said
         * "v1, and only v1"; for any other version its absence proves nothing */
        if (negotiated != TERN_PROTO_VERSION_1) {
            *why = "no version information after version negotiation";
            return TERN_ERR_PROTO;
        }
        memset(&v1_only, 0, sizeof(v1_only));
        v1_only.present = 1;
        v1_only.chosen = TERN_PROTO_VERSION_1;
        v1_only.n = 1;
        v1_only.available[0] = TERN_PROTO_VERSION_1;
        server = &v1_only;
    }
    if (server->chosen != negotiated) {
        *why = "server's chosen version is not the one in use";
        return TERN_ERR_PROTO;
    }
    if (!after_vn)
        return 0;
    if (server->n == 0) {
        *why = "no available versions after version negotiation";
        return TERN_ERR_PROTO;
    }
    /* the version we would have picked from a VN listing the server's versions */
    for (size_t i = 0; i < n; i++) {
        if (ours[i] == negotiated)
            return 0;
        if (tern_qv_in(ours[i], server->available, server->n)) {
            *why = "version downgrade";
            return TERN_ERR_PROTO;
        }
    }
    return 0;
}

uint32_t tern_qv_after_vn(const uint32_t *ours, size_t n, uint32_t current, const uint8_t *vn,
                          size_t m)
{
    for (size_t i = 0; i < n; i++) {
        if (ours[i] == current)
            continue;
        for (size_t j = 0; j < m; j++)
            if (tern_get_u32(vn + 4 * j) == ours[i])
                return ours[i];
    }
    return 0;
}
