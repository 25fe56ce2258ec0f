/* README.md's table of the HAKMEM_* options is the one config.c's option
 * table prints (hk_config_doc): the same lines, in the same order.  A value
 * changed in one and not the other fails here; regenerate the README's table
 * with `build/tests/unit_options_doc --print`.  Run from the repository's
 * root (tests/run.sh does). */
#include "unit.h"
#include <string.h>
#include <unistd.h>

static char doc[8192], readme[262144];

static size_t slurp(int fd, char *buf, size_t size) {
  size_t n = 0;
  ssize_t r;
  while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0) n += (size_t)r;
  buf[n] = 0;
  return n;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--print") == 0) {
    hk_config_doc(1);
    return 0;
  }
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  hk_config_doc(p[1]);
  close(p[1]);
  size_t n = slurp(p[0], doc, sizeof doc);
  CHECK(n > 0 && n + 1 < sizeof doc, "hk_config_doc wrote %zu bytes", n);
  int lines = 0;
  for (size_t i = 0; i < n; i++) lines += doc[i] == '\n';
  CHECK(lines == 13, "%d lines: a header, a rule and 11 options expected", lines);
  FILE *f = fopen("README.md", "r");
  CHECK(f != NULL, "README.md not found (run from the repository's root)");
  size_t m = fread(readme, 1, sizeof readme - 1, f);
  fclose(f);
  readme[m] = 0;
  if (!strstr(readme, doc)) {
    fprintf(stderr, "FAIL: README.md's options table differs from config.c's; it should read:\n%s",
            doc);
    return 1;
  }
  printf("README.md's options table is config.c's (%d lines)\n", lines);
  return 0;
}
