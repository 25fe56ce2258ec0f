/* Hardened free-list links (harden.h): malloc reads a popped block's link
 * back only if it names an address of the block's own slab.  The test
 * forges links with the SuperSlab's key (what an attacker with the key, or
 * a bug, could write) and expects "free-list corruption" and SIGABRT for a
 * link into the SuperSlab header (in the 64 KiB of slab 0, before its first
 * block), into a neighbouring slab, and a stray one; a link to a block of
 * the same slab is taken.  The pop is malloc's (hk_slab_pop), on a live
 * block made the head of its slab's free list.  Runs itself with
 * HAKMEM_HARDEN=1. */
#include "unit.h"
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SIZE = 48, MANY = 4096 }; /* 48 B blocks: 1365 per slab, several slabs */

/* Make b (live) the head of its slab's free list with a forged link to
 * `to`, then pop it, as malloc does: the pop reads the link. */
static void forge_and_pop(void *b, uintptr_t to) {
  hk_superslab_t *ss = hk_ss_of(b);
  hk_slab_t *s = hk_slab_head(hk_slab_at(ss, b));
  ((hk_block_t *)b)->next = (hk_block_t *)hk_link_encode_ss(ss, b, (const hk_block_t *)to);
  s->free = b;
  s->used--;
  CHECK(hk_slab_pop(s) == b, "the pop did not return the forged block");
}

/* Runs case `what` in a child; returns its stderr's first line in msg. */
static int run_case(void (*what)(void), char *msg, size_t cap) {
  int fd[2];
  CHECK(pipe(fd) == 0, "pipe");
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) {
    dup2(fd[1], 2);
    what();
    _exit(0);
  }
  close(fd[1]);
  ssize_t n = read(fd[0], msg, cap - 1);
  msg[n > 0 ? n : 0] = '\0';
  char *nl = strchr(msg, '\n');
  if (nl) *nl = '\0';
  close(fd[0]);
  int st;
  waitpid(pid, &st, 0);
  return st;
}

static void *blocks[MANY];

/* A block of slab 0 (whose 64 KiB also hold the header) and one of slab 1. */
static void *block_in_slab(unsigned want) {
  for (int i = 0; i < MANY; i++) {
    void *p = blocks[i];
    if (p && hk_slab_index(hk_ss_of(p), hk_slab_at(hk_ss_of(p), p)) == want) {
      blocks[i] = NULL;
      return p;
    }
  }
  return NULL;
}

static void *victim, *other;
static void to_header(void) { forge_and_pop(victim, (uintptr_t)hk_ss_of(victim) + 64); }
static void to_next_slab(void) { forge_and_pop(victim, (uintptr_t)other); }
static void stray(void) { forge_and_pop(victim, 0x4141414141414141u); }
static void same_slab(void) {
  void *mate = block_in_slab(hk_slab_index(hk_ss_of(victim), hk_slab_at(hk_ss_of(victim), victim)));
  CHECK(mate != NULL, "no second block in the victim's slab");
  forge_and_pop(victim, (uintptr_t)mate);
}

int main(int argc, char **argv) {
  (void)argc;
  if (!getenv("HAKMEM_HARDEN")) {
    setenv("HAKMEM_HARDEN", "1", 1);
    execv("/proc/self/exe", argv);
    CHECK(0, "execv failed");
  }
  for (int i = 0; i < MANY; i++) blocks[i] = malloc(SIZE);
  CHECK(hk_cfg.harden == HK_HARDEN_ON, "not hardened");
  victim = block_in_slab(0);
  other = block_in_slab(1);
  CHECK(victim && other, "no blocks in slabs 0 and 1 (%p %p)", victim, other);
  struct {
    const char *name;
    void (*fn)(void);
    bool aborts;
  } cases[] = {
      {"link into the header", to_header, true},
      {"link into the next slab", to_next_slab, true},
      {"stray link", stray, true},
      {"link within the slab", same_slab, false},
  };
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char msg[256];
    int st = run_case(cases[i].fn, msg, sizeof msg);
    if (cases[i].aborts) {
      CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: status %#x (%s)", cases[i].name, st,
            msg);
      CHECK(strncmp(msg, "hakmem: free-list corruption (pointer 0x", 40) == 0, "%s: '%s'",
            cases[i].name, msg);
    } else {
      CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %#x (%s)", cases[i].name, st, msg);
    }
  }
  printf("hardened links: header, next slab, stray: caught; same slab: taken; ok\n");
  return 0;
}
