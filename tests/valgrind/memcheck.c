/* memcheck.c — run under valgrind with the valgrind build preloaded
 * (tests/run.sh, check valgrind_memcheck):
 *   memcheck clean   every call of the malloc family, used as a program
 *                    should: memcheck must report nothing;
 *   memcheck bugs    one read after free (offset 16 of a freed 64-byte
 *                    block), one read past the size asked for (byte 40 of
 *                    a 40-byte block), one leaked 1000-byte block: memcheck
 *                    must report each, as it does with glibc's malloc. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile keep; /* what the leak check must not count */

static int clean(void)
{
    char *a = malloc(100);
    memset(a, 1, 100);
    char *b = calloc(50, 4);
    int sum = b[199];
    a = realloc(a, 5000); /* moves: the first 100 bytes stay defined */
    sum += a[99];
    a = realloc(a, 20); /* in place */
    sum += a[19];
    void *c = aligned_alloc(4096, 8192);
    memset(c, 2, 8192);
    void *d = NULL;
    if (posix_memalign(&d, 64, 300) == 0)
        memset(d, 3, 300);
    char *big = malloc(3 << 20);
    big[(3 << 20) - 1] = 4;
    sum += big[(3 << 20) - 1];
    free(a);
    free(b);
    free(c);
    free(d);
    free(big);
    for (int i = 0; i < 10000; i++) { /* blocks freed and handed out again */
        char *p = malloc((size_t)(i % 300) + 1);
        p[0] = (char)i;
        sum += p[0];
        free(p);
    }
    for (int i = 0; i < 1000; i++) { /* calloc zeroes blocks memcheck saw freed */
        char *p = malloc(64 + (size_t)(i % 4) * 16);
        free(p);
        char *q = calloc(8, 8 + (size_t)(i % 4) * 2);
        sum += q[63];
        free(q);
    }
    keep = malloc(64); /* reachable at exit: not a leak */
    printf("clean: %d\n", sum != 0);
    return 0;
}

/* The bugs are the point: gcc sees the first one too. */
#pragma GCC diagnostic ignored "-Wuse-after-free"

static int bugs(void)
{
    char *a = malloc(64);
    memset(a, 5, 64);
    free(a);
    volatile char after_free = a[16]; /* invalid read after free */
    char *b = malloc(40);
    memset(b, 6, 40);
    volatile char past_end = b[40]; /* invalid read past the block */
    free(b);
    char *leak = malloc(1000); /* definitely lost */
    memset(leak, 7, 1000);
    leak = NULL;
    printf("bugs: %d %d\n", after_free, past_end);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "bugs") == 0)
        return bugs();
    return clean();
}
