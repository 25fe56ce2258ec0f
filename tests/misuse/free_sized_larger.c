/* expect: sized free of more bytes than the block has */
/* free_sized_larger.c — misuse test for tests/misuse.sh:
 * p = malloc(100) (a 112-byte block); free_sized(p, 4096), as a sized
 * delete through a pointer to the wrong class would.  free_sized (C23) is
 * looked up at run time: the program is built without hakmem and not
 * every libc has it.
 * Prints the pointer it misuses, then misuses it once. */
#include <dlfcn.h>

#include "misuse.h"

int main(void)
{
    void (*free_sized)(void *, size_t);
    void *sym = dlsym(RTLD_DEFAULT, "free_sized");
    if (!sym)
        return 2;
    *(void **)&free_sized = sym;
    char *volatile p = malloc(100);
    announce(p);
    free_sized(p, 4096);
    return survived();
}
