/* rss_run [-t SECONDS] [-p PRELOAD] [-o FILE] [-s TRACE] [-c CPU] -- COMMAND [ARGS...]
 *
 * Runs COMMAND (with LD_PRELOAD=PRELOAD set for it alone, when given), waits
 * for it with wait4 and writes one line to FILE (default stderr):
 *   maxrss_kb=N wall_s=W user_s=U sys_s=S minflt=F majflt=J status=exit:C
 * (status=signal:S or status=timeout for a killed command; status is last).
 * maxrss_kb is the child's peak resident set (ru_maxrss), wall_s the time
 * from fork to reaping it, user_s/sys_s/minflt/majflt from its rusage.
 * Kills the command (SIGKILL) after SECONDS (default 120; 0 = never).  Exits with the command's exit code, 128+signal, or 124 on timeout.
 * With -s, the command's resident set is sampled every 10 ms from
 * /proc/PID/statm into TRACE, one "SECONDS KIB" line per sample (seconds
 * since the fork): resident memory over time, read from outside the process
 * so that every allocator is measured alike.  With -c, the command runs on
 * that CPU alone (sched_setaffinity before the exec): a single-threaded
 * benchmark then does not migrate between a fast and a slow vCPU (exit
 * status 125 when the CPU cannot be used).
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
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

/* The child's resident set in KiB from /proc/PID/statm, or -1 once gone. */
static long child_rss_kb(pid_t pid)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    long size, resident;
    if (sscanf(buf, "%ld %ld", &size, &resident) != 2) return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

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
    const char *preload = NULL, *out = NULL, *trace = NULL;
    int opt, cpu = -1;
    while ((opt = getopt(argc, argv, "+t:p:o:s:c:")) != -1) {
        switch (opt) {
        case 't': secs = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'p': preload = optarg; break;
        case 'o': out = optarg; break;
        case 's': trace = optarg; break;
        case 'c': cpu = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-t SECONDS] [-p PRELOAD] [-o FILE] [-s TRACE] [-c CPU] -- CMD [ARGS]\n",
                    argv[0]);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "rss_run: no command\n");
        return 2;
    }
    FILE *tf = NULL;
    if (trace && !(tf = fopen(trace, "w"))) {
        fprintf(stderr, "rss_run: %s: %s\n", trace, strerror(errno));
        return 2;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0) {
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            if (sched_setaffinity(0, sizeof set, &set) != 0) {
                fprintf(stderr, "rss_run: CPU %d: %s\n", cpu, strerror(errno));
                _exit(125);
            }
        }
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
    for (;;) {
        pid_t r = wait4(child, &status, tf ? WNOHANG : 0, &ru);
        if (r == child) break;
        if (r < 0 && errno != EINTR) {
            perror("wait4");
            return 2;
        }
        if (r == 0) {   /* sampling, the child still runs */
            long kb = child_rss_kb(child);
            if (kb >= 0) fprintf(tf, "%.3f %ld\n", since(&t0), kb);
            struct timespec tick = { 0, 10 * 1000 * 1000 };
            nanosleep(&tick, NULL);
        }
    }
    if (tf) fclose(tf);
    alarm(0);
    double wall = since(&t0);
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
