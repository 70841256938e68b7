/* The entry point every fuzz target defines: libFuzzer (or replay.c, where libFuzzer is not
 * available) calls it with each input. Returns 0. */
#ifndef TERN_FUZZ_ENTRY_H
#define TERN_FUZZ_ENTRY_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
