/* expect: free of a pointer hakmem did not allocate */
/* free_mmap.c — misuse test for tests/misuse.sh:
 * free of a page from a private anonymous mmap.
 * Prints the pointer it misuses, then misuses it once. */
#include "misuse.h"
#include <sys/mman.h>

int main(void)
{
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    char *volatile q = m;
    announce(q);
    free(q);
    return survived();
}
