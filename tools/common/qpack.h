/* QPACK (RFC 9204) for an HTTP/3 endpoint that uses no dynamic table in either direction: it
 * advertises SETTINGS_QPACK_MAX_TABLE_CAPACITY 0 and SETTINGS_QPACK_BLOCKED_STREAMS 0, and its own
 * encoder references only the static table. What that leaves is pure functions on byte strings:
 * prefixed integers (RFC 9204 §4.1.1, RFC 7541 §5.1), Huffman strings (RFC 7541 §5.2 and its
 * Appendix B code), the static table (RFC 9204 Appendix A), encoding and decoding a field section,
 * and checking what the peer sends on its encoder and decoder streams. Nothing here allocates.
 *
 * Without a dynamic table a field section needs no state across streams, and no peer can make
 * the endpoint hold a table or blocked sections: the memory of QPACK per connection is zero. */
#ifndef TOOLS_COMMON_QPACK_H
#define TOOLS_COMMON_QPACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* QPACK error codes (RFC 9204 §6), used as HTTP/3 application error codes. */
enum {
    TOOL_QPACK_DECOMPRESSION_FAILED = 0x200,
    TOOL_QPACK_ENCODER_STREAM_ERROR = 0x201,
    TOOL_QPACK_DECODER_STREAM_ERROR = 0x202,
};

/* Results of the functions below (0 is success). */
enum {
    TOOL_QPACK_ERR_MALFORMED = -1, /* the input breaks RFC 9204 (or references a dynamic table) */
    TOOL_QPACK_ERR_TOO_LARGE = -2, /* the section's size exceeds the caller's bound */
    TOOL_QPACK_ERR_NOSPACE = -3,   /* the output buffer is too small */
};

/* A field line: name and value as bytes (not NUL-terminated). */
typedef struct tool_qpack_field {
    const uint8_t *name;
    size_t namelen;
    const uint8_t *value;
    size_t valuelen;
} tool_qpack_field;

/* ---- prefixed integers ---- */

/* Writes `v` as a prefixed integer whose first octet keeps the bits of `first` above the
 * `prefix` low bits (1..8). Returns the octets written, or 0 when `cap` is too small. */
size_t tool_qpack_int_encode(uint8_t *out, size_t cap, uint8_t first, int prefix, uint64_t v);

/* Reads a prefixed integer with a `prefix`-bit prefix (1..8) from p[0..len). Returns the octets
 * it took, 0 when p ends before the integer does, or TOOL_QPACK_ERR_MALFORMED when the value
 * exceeds 2^62 - 1 or takes more than 10 octets. */
ssize_t tool_qpack_int_decode(const uint8_t *p, size_t len, int prefix, uint64_t *v);

/* ---- Huffman code ---- */

/* The length of s[0..n) Huffman-coded, padding included. */
size_t tool_qpack_huff_len(const uint8_t *s, size_t n);

/* Huffman-codes s[0..n) into out, which holds at least tool_qpack_huff_len(s, n) octets, with
 * the final octet padded by the most significant bits of EOS. Returns the octets written. */
size_t tool_qpack_huff_encode(uint8_t *out, const uint8_t *s, size_t n);

/* Decodes Huffman-coded in[0..n) into out[0..cap). Returns the decoded length, or
 * TOOL_QPACK_ERR_MALFORMED (the EOS symbol, padding longer than 7 bits or not of EOS's 1 bits,
 * RFC 7541 §5.2), or TOOL_QPACK_ERR_NOSPACE. */
ssize_t tool_qpack_huff_decode(uint8_t *out, size_t cap, const uint8_t *in, size_t n);

/* ---- static table ---- */

#define TOOL_QPACK_STATIC_COUNT 99

/* Entry `index` of the static table (0..98), or NULL beyond it. */
const tool_qpack_field *tool_qpack_static(uint64_t index);

/* The static entry for name (and value): returns the index of an entry with both equal and sets
 * *full to 1, else the lowest index of an entry with the name and sets *full to 0, else -1. */
int tool_qpack_static_find(const uint8_t *name, size_t namelen, const uint8_t *value,
                           size_t valuelen, int *full);

/* ---- field sections ---- */

/* An upper bound of the octets tool_qpack_encode writes for these fields. */
size_t tool_qpack_encode_bound(const tool_qpack_field *fields, size_t n);

/* Encodes a field section (a HEADERS frame's payload): the prefix with Required Insert Count 0
 * and Base 0, then each field as an indexed static line when the static table has it whole, a
 * literal with a static name reference when it has the name, else a literal with a literal name;
 * each string Huffman-coded when that is shorter. Names must be lowercase already (HTTP/3 fields
 * are). Returns the octets written, or TOOL_QPACK_ERR_NOSPACE. */
ssize_t tool_qpack_encode(uint8_t *out, size_t cap, const tool_qpack_field *fields, size_t n);

/* Called by tool_qpack_decode for each field line, in order. The field's strings live in the
 * input or in the decoder's scratch buffer, valid only during the call. Returns 0 to go on, or
 * any positive value to stop decoding (tool_qpack_decode then returns it). */
typedef int (*tool_qpack_field_fn)(void *ud, const tool_qpack_field *f);

/* Decodes the field section in[0..n) (one whole HEADERS frame payload) for a decoder without a
 * dynamic table. Huffman-coded strings are decoded into scratch[0..scratch_cap), which holds
 * both strings of one field line at a time. Returns 0, the positive value a call of `fn`
 * returned, TOOL_QPACK_ERR_MALFORMED (Required Insert Count not 0 or a negative Base (any other
 * Base is allowed, RFC 9204 §4.5.1.2), any reference to a dynamic table or a post-base index, a
 * static index beyond the table, a truncated line, a bad Huffman string or one whose decoding
 * exceeds `scratch_cap`: QPACK_DECOMPRESSION_FAILED, RFC 9204 §2.2.3) or
 * TOOL_QPACK_ERR_TOO_LARGE (the section's size, the sum over its fields of name and value
 * lengths plus 32 (RFC 9114 §4.2.2), exceeds `max_size`; no call of `fn` happens past it). */
int tool_qpack_decode(const uint8_t *in, size_t n, uint8_t *scratch, size_t scratch_cap,
                      uint64_t max_size, tool_qpack_field_fn fn, void *ud);

/* ---- the peer's encoder and decoder streams ---- */

/* Checks bytes of the peer's encoder stream (after its stream type) against a decoder whose
 * table capacity is 0: the only instruction it may send is Set Dynamic Table Capacity 0 (one
 * octet, 0x20); any insertion or duplication, or a larger capacity, is an error. Stateless: any
 * split of the stream gives the same answer. Returns 0 or TOOL_QPACK_ERR_MALFORMED
 * (QPACK_ENCODER_STREAM_ERROR). */
int tool_qpack_check_encoder_stream(const uint8_t *p, size_t len);

/* Reads instructions from the peer's decoder stream (after its stream type), for an encoder that
 * never inserts: Stream Cancellation is accepted; Section Acknowledgment (no section ever had a
 * Required Insert Count above 0) and Insert Count Increment (nothing was inserted) are errors
 * (RFC 9204 §4.4). Returns the octets of the whole instructions at the start of p[0..len) (the
 * caller keeps the rest, at most 9 octets, until more arrives), or TOOL_QPACK_ERR_MALFORMED
 * (QPACK_DECODER_STREAM_ERROR). */
ssize_t tool_qpack_read_decoder_stream(const uint8_t *p, size_t len);

#endif
