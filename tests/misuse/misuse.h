/* tests/misuse/misuse.h — what every misuse program does around its one
 * misuse: print the pointer it is about to misuse (tests/misuse.sh expects
 * it in the message), and say so if the misuse went unnoticed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void announce(const void *p)
{
    printf("0x%016lx\n", (unsigned long)(uintptr_t)p);
    fflush(stdout);
}

static inline int survived(void)
{
    puts("survived");
    return 0;
}
