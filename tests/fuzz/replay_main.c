/*
 * replay_main.c — runs a libFuzzer target without libFuzzer: feeds every file named on the
 * command line (or found in a named directory) to LLVMFuzzerTestOneInput once. Built with
 * every compiler, so ctest's fuzz-smoke tests replay the seed corpora (and any crash file
 * saved by `make fuzz`) under the ASan/UBSan build. Exit 0 when every input ran; a bug
 * aborts.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX (64u << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    /* Exactly the file's bytes (at most REPLAY_MAX), so ASan sees any read past the input;
     * sized from fstat so that small inputs do not cost a 64 MiB allocation each. */
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || st.st_size < 0) {
        fclose(f);
        return -1;
    }
    size_t cap = (uint64_t)st.st_size < REPLAY_MAX ? (size_t)st.st_size : REPLAY_MAX;
    uint8_t *in = malloc(cap ? cap : 1);
    size_t n = in ? fread(in, 1, cap, f) : 0;
    fclose(f);
    if (!in) return -1;
    LLVMFuzzerTestOneInput(in, n);
    free(in);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    long count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) < 0) return 1;
            count++;
            continue;
        }
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, alphasort);
        if (n < 0) return 1;
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
            if (names[k]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                if (run_file(path) < 0) return 1;
                count++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %ld inputs\n", count);
    return 0;
}
