/* libFuzzer target for the resumption blob an application hands back to tern: whatever decodes
 * encodes again to the very same bytes, and decodes to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_entry.h"
#include "resume.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tern_resume r, again;
    if (tern_resume_decode(&r, data, size))
        return 0;
    CHECK(r.session_len > 0 && r.session_len <= TERN_RESUME_MAX_SESSION);
    CHECK(r.session >= data && r.session + r.session_len == data + size);
    static uint8_t out[TERN_RESUME_MAX_LEN];
    size_t n = tern_resume_encode(&r, out, sizeof(out));
    CHECK(n > 0);
    CHECK(tern_resume_decode(&again, out, n) == 0);
    CHECK(again.max_early_data == r.max_early_data && strcmp(again.alpn, r.alpn) == 0);
    CHECK(again.initial_max_data == r.initial_max_data);
    CHECK(again.initial_max_streams_bidi == r.initial_max_streams_bidi);
    CHECK(again.active_connection_id_limit == r.active_connection_id_limit);
    CHECK(again.session_len == r.session_len && !memcmp(again.session, r.session, r.session_len));
    /* re-encoding is canonical */
    static uint8_t out2[TERN_RESUME_MAX_LEN];
    CHECK(tern_resume_encode(&again, out2, sizeof(out2)) == n && !memcmp(out, out2, n));
    return 0;
}
