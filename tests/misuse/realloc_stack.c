/* expect: realloc of a pointer hakmem did not allocate */
/* realloc_stack.c — misuse test for tests/misuse.sh:
 * realloc of a 16-aligned address in a stack array.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    _Alignas(16) char buf[64];
    buf[0] = 0;
    char *volatile q = buf + 16;
    announce(q);
    void *volatile r = realloc(q, 64);
    (void)r;
    return survived();
}
