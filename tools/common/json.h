/* Minimal JSON output helpers: enough to print one result object without a JSON library. */
#ifndef TOOLS_COMMON_JSON_H
#define TOOLS_COMMON_JSON_H

#include <stdio.h>

/* Writes `s` as a quoted JSON string: quotes, backslashes and control characters escaped, bytes
 * >= 0x80 passed through (the inputs are UTF-8 or ASCII). A NULL `s` is written as "". */
void tool_json_string(FILE *f, const char *s);

/* Writes a finite double with `decimals` digits after the point; NaN and infinities become 0
 * (JSON has no spelling for them). */
void tool_json_number(FILE *f, double v, int decimals);

#endif
