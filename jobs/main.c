/* main.c — the strata command line: a thin dispatcher over the library. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: strata help\n");
        return 2;
    }
    if (strcmp(argv[1], "help") == 0) {
        printf("strata: data-parallel neural network training\n");
        return 0;
    }
    fprintf(stderr, "strata: unknown command \"%s\"\n", argv[1]);
    return 2;
}
