/* libFuzzer target for the tools' QPACK (tools/common/qpack.c). Each input is read four ways:
 * - as a field section: whatever decodes is encoded again, which must take no more octets than
 *   the input, decode to the same fields and encode to the same octets again; decoded with a
 *   bound one below its size it must stop before its last field;
 * - as a Huffman string: when it decodes, the result must encode back to exactly the input (the
 *   code and its padding leave one encoding per string);
 * - as the peer's encoder stream and decoder stream: the answer must not depend on how the input
 *   is split, and the decoder stream reader must never leave more than 9 octets unread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qpack.h"
#include "fuzz_entry.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MAX_INPUT 65536
#define MAX_SECTION 65536 /* the decoded size bound: names, values and 32 per field */
#define MAX_FIELDS (MAX_SECTION / 32)

/* The fields of one decoded section, copied out of the decoder's buffers. */
typedef struct fields {
    tool_qpack_field f[MAX_FIELDS];
    uint8_t store[MAX_SECTION];
    size_t n, used;
    uint64_t size;
} fields;

static uint8_t scratch[MAX_INPUT * 8 / 5 + 1];
static uint8_t enc[2 + MAX_SECTION + 20 * MAX_FIELDS];
static uint8_t enc2[sizeof(enc)];
static fields first, second;

static uint8_t *keep_bytes(fields *s, const uint8_t *p, size_t n)
{
    uint8_t *d = s->store + s->used;

    /* the bound passed to the decoder keeps every section within the store */
    CHECK(n <= MAX_SECTION - s->used);
    if (n)
        memcpy(d, p, n);
    s->used += n;
    return d;
}

static int keep(void *ud, const tool_qpack_field *f)
{
    fields *s = ud;
    tool_qpack_field *k;

    CHECK(s->n < MAX_FIELDS);
    k = &s->f[s->n++];
    k->name = keep_bytes(s, f->name, f->namelen);
    k->namelen = f->namelen;
    k->value = keep_bytes(s, f->value, f->valuelen);
    k->valuelen = f->valuelen;
    s->size += f->namelen + f->valuelen + 32;
    CHECK(s->size <= MAX_SECTION);
    return 0;
}

static int decode(const uint8_t *in, size_t n, uint64_t max, fields *s)
{
    s->n = s->used = 0;
    s->size = 0;
    return tool_qpack_decode(in, n, scratch, sizeof(scratch), max, keep, s);
}

static void same_fields(const fields *a, const fields *b)
{
    CHECK(a->n == b->n && a->size == b->size);
    for (size_t i = 0; i < a->n; i++) {
        const tool_qpack_field *x = &a->f[i], *y = &b->f[i];

        CHECK(x->namelen == y->namelen && !memcmp(x->name, y->name, x->namelen));
        CHECK(x->valuelen == y->valuelen && !memcmp(x->value, y->value, x->valuelen));
    }
}

static void section(const uint8_t *data, size_t size)
{
    int rc = decode(data, size, MAX_SECTION, &first);
    size_t bound;
    ssize_t w, w2;

    CHECK(rc == 0 || rc == TOOL_QPACK_ERR_MALFORMED || rc == TOOL_QPACK_ERR_TOO_LARGE);
    if (rc)
        return;
    bound = tool_qpack_encode_bound(first.f, first.n);
    CHECK(bound <= sizeof(enc));
    w = tool_qpack_encode(enc, bound, first.f, first.n);
    /* the encoder picks the shortest form of each line and string, so never more than the
     * input took */
    CHECK(w >= 2 && (size_t)w <= size);
    CHECK(tool_qpack_encode(enc2, (size_t)w - 1, first.f, first.n) == TOOL_QPACK_ERR_NOSPACE);
    CHECK(decode(enc, (size_t)w, MAX_SECTION, &second) == 0);
    same_fields(&first, &second);
    w2 = tool_qpack_encode(enc2, sizeof(enc2), second.f, second.n);
    CHECK(w2 == w && !memcmp(enc, enc2, (size_t)w));
    /* one below the section's size: every field but the last is delivered */
    if (first.n) {
        CHECK(decode(data, size, first.size - 1, &second) == TOOL_QPACK_ERR_TOO_LARGE);
        CHECK(second.n == first.n - 1);
    }
}

static void huffman(const uint8_t *data, size_t size)
{
    ssize_t n = tool_qpack_huff_decode(scratch, sizeof(scratch), data, size);

    /* at least 5 bits a symbol: the output never exceeds 8/5 of the input */
    CHECK(n >= 0 || n == TOOL_QPACK_ERR_MALFORMED);
    if (n < 0)
        return;
    CHECK((size_t)n <= size * 8 / 5);
    CHECK(tool_qpack_huff_len(scratch, (size_t)n) == size);
    CHECK(tool_qpack_huff_encode(enc, scratch, (size_t)n) == size);
    CHECK(!memcmp(enc, data, size));
    if (n)
        CHECK(tool_qpack_huff_decode(enc2, (size_t)n - 1, data, size) == TOOL_QPACK_ERR_NOSPACE);
}

static void streams(const uint8_t *data, size_t size)
{
    size_t cut = size ? data[0] % (size + 1) : 0;
    int whole = tool_qpack_check_encoder_stream(data, size);
    int a = tool_qpack_check_encoder_stream(data, cut);
    int b = tool_qpack_check_encoder_stream(data + cut, size - cut);

    CHECK(whole == 0 || whole == TOOL_QPACK_ERR_MALFORMED);
    CHECK((whole < 0) == (a < 0 || b < 0));

    /* the decoder stream in chunks of 1 to 8 octets (their sizes taken from the input), the
     * unread rest kept as a caller keeps it */
    ssize_t all = tool_qpack_read_decoder_stream(data, size);
    uint8_t pend[32];
    size_t npend = 0, taken = 0, off = 0, i = 0;
    int failed = 0;

    CHECK(all >= 0 || all == TOOL_QPACK_ERR_MALFORMED);
    while (off < size && !failed) {
        size_t k = 1 + data[i++ % size] % 8;
        ssize_t r;

        if (k > size - off)
            k = size - off;
        memcpy(pend + npend, data + off, k);
        npend += k;
        off += k;
        r = tool_qpack_read_decoder_stream(pend, npend);
        if (r < 0) {
            failed = 1;
            break;
        }
        taken += (size_t)r;
        memmove(pend, pend + r, npend - (size_t)r);
        npend -= (size_t)r;
        CHECK(npend <= 9);
    }
    if (all < 0) {
        CHECK(failed);
    } else {
        CHECK(!failed && taken == (size_t)all && npend == size - (size_t)all);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    section(data, size);
    huffman(data, size);
    streams(data, size);
    return 0;
}
