/* rss_run [-t SECONDS] [-p PRELOAD] [-o FILE] -- COMMAND [ARGS...]
 *
 * Runs COMMAND (with LD_PRELOAD=PRELOAD set for it alone, when given), waits
 * for it with wait4 and writes one line to FILE (default stderr):
 *   maxrss_kb=N wall_s=W user_s=U sys_s=S minflt=F majflt=J status=exit:C
 * (status=signal:S or status=timeout for a killed command; status is last).
 * maxrss_kb is the child's peak resident set (ru_maxrss), wall_s the time
 * from fork to reaping it, user_s/sys_s/minflt/majflt from its rusage.
 * Kills the command (SIGKILL) after SECONDS (default 120; 0 = never).  Exits with the command's exit code, 128+signal, or 124 on timeout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    if (child > 0)
        kill(child, SIGKILL);
}

int main(int argc, char **argv)
{
    unsigned secs = 120;
    const char *preload = NULL, *out = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+t:p:o:")) != -1) {
        switch (opt) {
        case 't': secs = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'p': preload = optarg; break;
        case 'o': out = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-t SECONDS] [-p PRELOAD] [-o FILE] -- CMD [ARGS]\n", argv[0]);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "rss_run: no command\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0) {
        if (preload && *preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "rss_run: exec %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    if (secs) alarm(secs);

    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(child, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("wait4");
            return 2;
        }
    }
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    FILE *f = out ? fopen(out, "w") : stderr;
    if (!f) f = stderr;
    int rc;
    fprintf(f, "maxrss_kb=%ld wall_s=%.4f user_s=%.4f sys_s=%.4f minflt=%ld majflt=%ld ",
            ru.ru_maxrss, wall,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6,
            ru.ru_minflt, ru.ru_majflt);
    if (timed_out) {
        fprintf(f, "status=timeout\n");
        rc = 124;
    } else if (WIFSIGNALED(status)) {
        fprintf(f, "status=signal:%d\n", WTERMSIG(status));
        rc = 128 + WTERMSIG(status);
    } else {
        fprintf(f, "status=exit:%d\n", WEXITSTATUS(status));
        rc = WEXITSTATUS(status);
    }
    if (f != stderr) fclose(f);
    return rc;
}
