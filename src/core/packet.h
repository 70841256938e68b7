/* Packet headers (RFC 9000 §17): parsing before header protection is removed, writing long and short
 * headers, packet-number truncation and recovery, Version Negotiation, Retry and stateless reset
 * layouts. Protection itself lives in crypto.c. */
#ifndef TERN_CORE_PACKET_H
#define TERN_CORE_PACKET_H

#include "common.h"

enum tern_pkt_type {
    TERN_PKT_INITIAL = 0,
    TERN_PKT_0RTT = 1,
    TERN_PKT_HANDSHAKE = 2,
    TERN_PKT_RETRY = 3,
    TERN_PKT_1RTT = 4,
    TERN_PKT_VN = 5,
};

/* What can be read of a packet before header protection is removed. */
typedef struct tern_pkt_hdr {
    int type;              /* enum tern_pkt_type */
    uint32_t version;      /* 0 for VN; unset for short headers */
    tern_cid dcid;
    tern_cid scid;         /* long headers only */
    const uint8_t *token;  /* Initial: token; Retry: retry token (without the 16-byte tag) */
    size_t token_len;
    size_t pn_offset;      /* offset of the (protected) packet number from the packet start */
    size_t pkt_len;        /* bytes of this packet in the datagram (coalescing: next starts here) */
    /* VN only: the supported versions list (4 bytes each) */
    const uint8_t *versions;
    size_t versions_count;
} tern_pkt_hdr;

/* Parses the header of the packet at pkt[0..len). `short_dcid_len` is the length of our own CIDs,
 * used for short headers. Returns 0, or TERN_ERR_DROP when the packet is malformed or truncated (the
 * datagram's remaining bytes should be dropped). Long headers of an unknown version are reported
 * with their version so that the caller can answer with Version Negotiation: only version, dcid and
 * scid are meaningful then, and pkt_len is the whole datagram. Connection IDs longer than 20 bytes
 * are dropped whatever the version (tern_cid cannot hold them). The fixed bit is checked for v1
 * and v2 packets (not for VN nor unknown versions), whose type is given in enum tern_pkt_type
 * whatever codepoint the version uses on the wire (RFC 9369 §3.2). VN needs a non-empty list of whole versions; Retry a
 * non-empty token followed by the 16-byte tag. For Initial/0-RTT/Handshake, Length must fit in the
 * datagram and pkt_len = pn_offset + Length; whether the header protection sample fits is left to
 * tern_crypto_unprotect_header. */
int tern_pkt_parse(const uint8_t *pkt, size_t len, size_t short_dcid_len, tern_pkt_hdr *h);

/* Reads only the DCID of a datagram for demultiplexing. Returns 0 or TERN_ERR_DROP. */
int tern_pkt_peek_dcid(const uint8_t *pkt, size_t len, size_t short_dcid_len, tern_cid *dcid,
                       int *is_long);

/* RFC 9000 Appendix A.3: the full packet number from `truncated` (pn_nbits bits) given the largest
 * packet number received so far in the space (or UINT64_MAX when none). */
uint64_t tern_pkt_decode_pn(uint64_t largest, uint64_t truncated, size_t pn_nbits);

/* Bytes (1-4) to encode `pn` given the largest acknowledged pn (UINT64_MAX when none). */
size_t tern_pkt_pn_len(uint64_t pn, uint64_t largest_acked);

/* Writes a long header (Initial, 0-RTT, Handshake; the type codepoint is `version`'s) up to and including the packet number. The
 * Length field is written as a varint placeholder at *len_off (fill it with tern_pkt_set_length
 * once the payload size is known): 2 bytes when the rest of `cap` cannot exceed 16383 bytes,
 * else 4. `token` is used only for Initial. Returns the header length (the packet number ends
 * there), or 0 when `cap` is too small. */
size_t tern_pkt_write_long(uint8_t *p, size_t cap, int type, uint32_t version, const tern_cid *dcid,
                           const tern_cid *scid, const uint8_t *token, size_t token_len,
                           uint64_t pn, size_t pn_len, size_t *len_off);

/* Stores `length` (pn bytes + payload + AEAD tag) into the Length placeholder at p, in the width
 * tern_pkt_write_long chose. Returns 0, or -1 when the length does not fit that width. */
int tern_pkt_set_length(uint8_t *p, size_t length);

/* Writes a short header (1-RTT) up to and including the packet number. Returns its length or 0. */
size_t tern_pkt_write_short(uint8_t *p, size_t cap, const tern_cid *dcid, uint64_t pn, size_t pn_len,
                            int key_phase, int spin);

/* Writes a Version Negotiation packet answering a client whose Initial carried dcid/scid (so the VN's
 * dcid is the client's scid and vice versa). `unused` supplies the random first-byte bits. Returns
 * its length or 0. */
size_t tern_pkt_write_vn(uint8_t *p, size_t cap, const tern_cid *client_dcid,
                         const tern_cid *client_scid, const uint32_t *versions, size_t n,
                         uint8_t unused);

/* Writes a Retry packet without its integrity tag (append tern_crypto_retry_tag's 16 bytes after it).
 * Returns its length or 0. */
size_t tern_pkt_write_retry(uint8_t *p, size_t cap, uint32_t version, const tern_cid *dcid,
                            const tern_cid *scid, const uint8_t *token, size_t token_len,
                            uint8_t unused);

/* Writes a stateless reset of exactly `len` bytes (>= 21): random bytes from `rnd` (len - 16 of them
 * used, first byte forced to a short-header form) followed by the token. Returns len or 0. */
size_t tern_pkt_write_stateless_reset(uint8_t *p, size_t len, const uint8_t *rnd,
                                      const uint8_t token[TERN_RESET_TOKEN_LEN]);

#endif
