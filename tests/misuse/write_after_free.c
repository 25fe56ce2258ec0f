/* expect: free-list corruption */
/* write_after_free.c — misuse test for tests/misuse.sh:
 * two 64 B blocks freed, then the first word of the last one freed (where
 * the allocator keeps its free-list link) overwritten; malloc until that
 * block comes back.  Hardened mode reads the link when it pops the block.
 * Prints the pointer it misuses, then misuses it once. */
#include <string.h>

#include "misuse.h"

int main(void)
{
    char *volatile a = malloc(64);
    char *volatile b = malloc(64);
    free(a);
    free(b);
    announce(b);
    memset(b, 0x41, 8); /* a use after free */
    for (int i = 0; i < 100000; i++)
        if (malloc(64) == b)
            break; /* the other blocks leak: a test */
    return survived();
}
