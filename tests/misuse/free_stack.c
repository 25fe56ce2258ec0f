/* expect: free of a pointer hakmem did not allocate */
/* free_stack.c — misuse test for tests/misuse.sh:
 * free of a 16-aligned address in a stack array.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"

int main(void)
{
    _Alignas(16) char buf[64];
    buf[0] = 0;
    char *volatile q = buf + 16;
    announce(q);
    free(q);
    return survived();
}
