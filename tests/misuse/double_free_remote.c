/* expect: double free */
/* double_free_remote.c — misuse test (tests/misuse.sh): malloc(64) in the
 * main thread; a second thread frees it, then frees it again (the second
 * free, in that thread, is the misuse).  Prints the pointer first. */
#include <pthread.h>
#include "misuse.h"

static void *twice(void *arg)
{
    char *volatile q = arg;
    free(q);
    free(q);
    return NULL;
}

int main(void)
{
    char *volatile q = malloc(64);
    announce(q);
    pthread_t t;
    if (pthread_create(&t, NULL, twice, q) != 0)
        return 2;
    pthread_join(t, NULL);
    return survived();
}
