/* libFuzzer target for QUIC-LB connection IDs (qlb.h), the decoding a load balancer applies to
 * every DCID it sees. The first two input bytes pick a configuration (server ID and nonce lengths,
 * keyed or not, config ID); the next bytes are decoded as a CID of every length up to 20, and,
 * taken as a server ID and nonce, encoded and decoded back: a difference aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_entry.h"
#include "qlb.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t sid_len = 1 + data[0] % TERN_QLB_MAX_SID;
    size_t nonce_len = TERN_QLB_MIN_NONCE + (data[0] >> 4) % 15;
    if (sid_len + nonce_len > TERN_QLB_MAX_PLAIN)
        nonce_len = TERN_QLB_MAX_PLAIN - sid_len;
    if (nonce_len < TERN_QLB_MIN_NONCE) {
        nonce_len = TERN_QLB_MIN_NONCE;
        sid_len = TERN_QLB_MAX_PLAIN - nonce_len;
    }
    static const uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                    0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};
    uint8_t buf[64] = {0};
    memcpy(buf, data + 2, size - 2 < sizeof(buf) ? size - 2 : sizeof(buf));
    tern_qlb q;
    CHECK(tern_qlb_init(&q, data[1] % 7, buf, sid_len, nonce_len, (data[1] & 0x80) ? key : NULL,
                        data[1] & 0x40) == 0);
    size_t ql = tern_qlb_len(&q);
    uint8_t sid[TERN_QLB_MAX_SID], nonce[TERN_QLB_MAX_PLAIN], cid[TERN_MAX_CID_LEN];
    for (size_t len = 0; len <= TERN_MAX_CID_LEN; len++) {
        int rv = tern_qlb_decode(&q, buf, len, sid, nonce);
        CHECK(len < ql ? rv == TERN_ERR_INVALID_ARG : (rv == 0 || rv == TERN_ERR_NOT_FOUND));
    }
    CHECK(tern_qlb_encode(&q, buf + sid_len, buf[40], ql, cid) == 0);
    CHECK(tern_qlb_decode(&q, cid, ql, sid, nonce) == 0);
    CHECK(memcmp(sid, buf, sid_len) == 0 && memcmp(nonce, buf + sid_len, nonce_len) == 0);
    CHECK(tern_qlb_decode(&q, cid, ql, sid, NULL) == 0 && memcmp(sid, buf, sid_len) == 0);
    tern_qlb_free(&q);
    return 0;
}
