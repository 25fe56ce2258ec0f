/* The heap validator (validate.c, HK_DEBUG=3): a settled heap passes, and
 * each kind of corruption it is there for aborts the process with its
 * "heap validation" line: a slab's used count off by one, a free-list
 * cycle, a block outside its slab on a list, a class queue's broken back
 * link, a direct[] slot that does not name its queue's head.  Each runs in
 * a child.  The validator exists at HK_DEBUG=3 only: make asan builds this
 * test there (build/asan/tests/unit_validate); the other builds say so and
 * pass. */
#include "unit.h"
#include "heap.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if HK_DEBUG >= 3

enum { N = 64 };
static void *blocks[N];

static hk_slab_t *slab_of_blocks(void) {
  for (int i = 0; i < N; i++) blocks[i] = malloc(48);
  for (int i = 0; i < N; i += 2) free(blocks[i]); /* some on local_free */
  return unit_slab_of(blocks[1]);
}

static void corrupt_used(hk_slab_t *s) { s->used++; }
static void corrupt_cycle(hk_slab_t *s) {
  hk_block_t *b = s->local_free;
  hk_link_set(s, b, b);
}
static void corrupt_outside(hk_slab_t *s) {
  static char elsewhere[64] __attribute__((aligned(16)));
  hk_link_set(s, s->local_free, (hk_block_t *)elsewhere);
}
static void corrupt_queue(hk_slab_t *s) { hk_heap_tls->queues[s->cls].last = NULL; }
static void corrupt_direct(hk_slab_t *s) {
  hk_heap_tls->direct[48 / 8] = &hk_slab_empty;
  (void)s;
}

/* Run the corruption in a child, validate there: returns whether it died of
 * SIGABRT with the validator's line on stderr. */
static int caught(const char *what, void (*corrupt)(hk_slab_t *)) {
  int fds[2];
  CHECK(pipe(fds) == 0, "pipe");
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) {
    dup2(fds[1], 2);
    hk_slab_t *s = slab_of_blocks();
    corrupt(s);
    hk_heap_validate(hk_heap_tls);
    _exit(0);
  }
  close(fds[1]);
  char buf[4096] = {0};
  size_t got = 0;
  ssize_t r;
  while (got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)r;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  int ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(buf, "heap validation") != NULL;
  printf("validate: %-34s %s: %.*s", what, ok ? "caught" : "MISSED", (int)strcspn(buf, "\n") + 1,
         buf);
  return ok;
}

int main(void) {
  hk_slab_t *s = slab_of_blocks();
  CHECK(s->local_free != NULL, "blocks on the local list");
  hk_heap_validate(hk_heap_tls); /* a settled heap passes */
  printf("validate: a settled heap passes\n");
  int ok = caught("used count off by one", corrupt_used) &
      caught("a cycle on the local free list", corrupt_cycle) &
      caught("a block outside its slab", corrupt_outside) &
      caught("a queue's last link", corrupt_queue) & caught("a direct[] slot", corrupt_direct);
  CHECK(ok, "the validator missed a corruption (above)");
  for (int i = 1; i < N; i += 2) free(blocks[i]);
  printf("validate: ok\n");
  return 0;
}

#else

int main(void) {
  printf("validate: the validator is built at HK_DEBUG=3 only (make asan runs this test)\n");
  return 0;
}

#endif
