/* QUIC versions (RFC 9000's v1, RFC 9369's v2): what differs between them on the wire (long header
 * type codepoints, key derivation labels) and compatible version negotiation (RFC 9368): the
 * version lists of a configuration, the server's choice, and the checks of the version_information
 * transport parameter that make a downgrade visible. Salts and Retry keys are crypto.c's. */
#ifndef TERN_CORE_QVERSION_H
#define TERN_CORE_QVERSION_H

#include "common.h"

#define TERN_QV_MAX TERN_MAX_QUIC_VERSIONS

/* 1 for the versions this library speaks. */
int tern_qv_supported(uint32_t v);

/* 1 when a connection begun in `from` may move to `to` without a round trip (RFC 9368 §2.3): both
 * supported (v1 and v2 share the first flight's format); a version is compatible with itself. */
int tern_qv_compatible(uint32_t from, uint32_t to);

/* The two type bits of a long header (RFC 9369 §3.2) for enum tern_pkt_type `type` (Initial, 0-RTT,
 * Handshake, Retry) in `v`, and back. Unsupported versions read as v1. */
unsigned tern_qv_type_bits(uint32_t v, int type);
int tern_qv_type_from_bits(uint32_t v, unsigned bits);

/* HKDF labels of packet protection keys (RFC 9001 §5.1, §6; RFC 9369 §3.3.2). */
typedef struct tern_qv_labels {
    const char *key, *iv, *hp, *ku;
} tern_qv_labels;
const tern_qv_labels *tern_qv_labels_for(uint32_t v);

/* Checks a configured list (count 0 = the default {v1}): at most TERN_QV_MAX supported versions
 * without duplicates. Returns 0 or TERN_ERR_CONFIG. */
int tern_qv_check_list(const uint32_t *v, size_t n);

/* The effective list of `cfg` into out[TERN_QV_MAX]; returns its length (>= 1). */
size_t tern_qv_list(const tern_config *cfg, uint32_t *out);

/* 1 when v is among list[0..n). */
int tern_qv_in(uint32_t v, const uint32_t *list, size_t n);

/* Version information (RFC 9368 §3) as carried in transport parameters. */
typedef struct tern_qv_info {
    int present;
    uint32_t chosen;
    size_t n; /* available versions kept: at most TERN_QV_INFO_MAX, the chosen one and those
                 this library speaks first when the peer sent more (tparams.c) */
    uint32_t available[16];
} tern_qv_info;
#define TERN_QV_INFO_MAX 16

/* Server: the version for a client whose first Initial was in `original` and whose parameters
 * carried `client` (ours[0..n) is our preference order): the first of ours that is the original
 * one, or compatible with it and among the client's available versions. The original version is
 * kept when the client sent no version information. */
uint32_t tern_qv_server_choose(const uint32_t *ours, size_t n, uint32_t original,
                               const tern_qv_info *client);

/* Server, RFC 9368 §4: the client's Chosen Version must be the version of its first Initial.
 * Returns 0, or TERN_ERR_PROTO with *why set (VERSION_NEGOTIATION_ERROR). */
int tern_qv_server_check(uint32_t original, const tern_qv_info *client, const char **why);

/* Client, RFC 9368 §4: the server's Chosen Version must be the version in use (`negotiated`);
 * after acting on a Version Negotiation packet (`after_vn`), the server's Available Versions must
 * not be empty and, given them, the client must not have preferred another version than
 * `negotiated` among ours[0..n) (a downgrade). Without version information: fine without VN;
 * after VN, a v1 connection reads it as "v1 only" (§8, servers that predate RFC 9368), any other
 * fails. Returns 0 or TERN_ERR_PROTO with *why. */
int tern_qv_client_check(const uint32_t *ours, size_t n, uint32_t negotiated, int after_vn,
                         const tern_qv_info *server, const char **why);

/* Client, after a Version Negotiation packet listing vn[0..m) (4-byte big-endian entries): the
 * first of ours that the server lists and that is not `current`, or 0 when none. */
uint32_t tern_qv_after_vn(const uint32_t *ours, size_t n, uint32_t current, const uint8_t *vn,
                          size_t m);

#endif
