/* A main for the fuzz targets where libFuzzer is not available (the gcov build of `make coverage`):
 * runs LLVMFuzzerTestOneInput once on each file given, and on each file of each directory given,
 * so that a corpus is replayed and its coverage measured. */
#include "fuzz_entry.h"
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    uint8_t *copy = malloc(n ? n : 1); /* exactly sized, as libFuzzer hands it */
    if (!copy)
        return -1;
    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st))
            continue;
        if (!S_ISDIR(st.st_mode)) {
            runs += run_file(argv[i]) == 0;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            runs += run_file(path) == 0;
        }
        if (d)
            closedir(d);
    }
    printf("%d inputs replayed\n", runs);
    return 0;
}
