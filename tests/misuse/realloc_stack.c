/* expect: realloc of a pointer hakmem did not allocate */
/* realloc_stack.c — misuse test for tests/misuse.sh:
 * realloc of a 16-aligned address in a stack array.
 * Prints the pointer it misuses, then misuses it once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    _Alignas(16) char buf[64];
    buf[0] = 0;
    char *volatile q = buf + 16;
    printf("0x%016lx\n", (unsigned long)(uintptr_t)q);
    fflush(stdout);
    void *volatile r = realloc(q, 64);
    (void)r;
    puts("survived");
    return 0;
}
