/* JSON string escaping and number formatting for machine-readable tool output. */
#include "common/json.h"

#include <math.h>

void tool_json_string(FILE *f, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fputs("\\u00", f);
                fputc(hex[*p >> 4], f);
                fputc(hex[*p & 0xf], f);
            } else {
                fputc(*p, f);
            }
        }
    }
    fputc('"', f);
}

void tool_json_number(FILE *f, double v, int decimals)
{
    if (!isfinite(v))
        v = 0;
    fprintf(f, "%.*f", decimals, v);
}
