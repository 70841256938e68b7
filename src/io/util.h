/* Configuration defaults and the size rule of tern_config, shared by tern_config_init and
 * tern_endpoint_new (util.c). */
#ifndef TERN_IO_UTIL_H
#define TERN_IO_UTIL_H

#include <stddef.h>

#include "tern/tern.h"

/* Fills the whole of `cfg` (this library's layout) with the defaults of tern.h. */
void tern_util_config_defaults(tern_config *cfg);
/* 1 when `size` is a tern_config size this library accepts: from the end of the required fields
 * (alpn, alpn_count) up to its own sizeof, aligned. */
int tern_util_config_size_ok(size_t size);

#endif
