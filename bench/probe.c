/*
 * probe: the one workload program every benchmark runs as its service or job.
 *
 * It stamps the moment it runs (CLOCK_MONOTONIC and CLOCK_REALTIME, in ns)
 * into a shared file with one write(2) on an O_APPEND descriptor, so lines
 * from many probes never interleave.  A C program rather than `date +%s%N`
 * or python3: the stamp must cost microseconds, not the milliseconds of
 * another exec or an interpreter start.
 *
 *   probe stamp FILE TAG        stamp, then wait for a signal (a service)
 *   probe once FILE TAG         stamp, then exit 0 (a cron job)
 *   probe orphans FILE TAG N    make N orphans that exit 50 ms later,
 *                               stamp, then wait (the zombie test)
 *   probe flood BYTES LINE      write BYTES of LINE-byte lines to stdout as
 *                               fast as possible, then exit
 *
 * A line is "TAG PID MONOTONIC_NS REALTIME_NS\n".  PID is the pid inside the
 * namespace; the harness finds host pids itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void stamp(const char *path, const char *tag)
{
    long long mono = ns_of(CLOCK_MONOTONIC);
    long long real = ns_of(CLOCK_REALTIME);
    char line[256];
    int n = snprintf(line, sizeof line, "%s %d %lld %lld\n", tag, (int)getpid(),
                     mono, real);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        perror(path);
        exit(1);
    }
    close(fd);
}

static void wait_forever(void)
{
    for (;;)
        pause();
}

static void make_orphans(int count)
{
    /* A middle process forks the orphans and exits at once, so they are
     * re-parented to the nearest subreaper or to the namespace's init,
     * which must reap them when they exit. */
    pid_t middle = fork();
    if (middle < 0) {
        perror("fork");
        exit(1);
    }
    if (middle == 0) {
        for (int i = 0; i < count; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                struct timespec pause_50ms = {0, 50 * 1000 * 1000};
                nanosleep(&pause_50ms, NULL);
                _exit(0);
            }
            if (pid < 0)
                perror("fork");
        }
        _exit(0);
    }
    waitpid(middle, NULL, 0);
}

static int flood(long long total, int line_len)
{
    static char buffer[1 << 16];
    int per_buffer = (int)sizeof buffer / line_len;
    for (int i = 0; i < per_buffer; i++) {
        memset(buffer + i * line_len, 'x', (size_t)line_len - 1);
        buffer[(i + 1) * line_len - 1] = '\n';
    }
    long long chunk = (long long)per_buffer * line_len;
    long long left = total;
    while (left > 0) {
        size_t size = (size_t)(left < chunk ? left : chunk);
        char *at = buffer;
        while (size > 0) {
            ssize_t written = write(1, at, size);
            if (written < 0) {
                if (errno == EINTR)
                    continue;
                perror("write");
                return 1;
            }
            at += written;
            size -= (size_t)written;
            left -= written;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "stamp") == 0) {
        stamp(argv[2], argv[3]);
        wait_forever();
    }
    if (argc == 4 && strcmp(argv[1], "once") == 0) {
        stamp(argv[2], argv[3]);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "orphans") == 0) {
        make_orphans(atoi(argv[4]));
        stamp(argv[2], argv[3]);
        wait_forever();
    }
    if (argc == 4 && strcmp(argv[1], "flood") == 0)
        return flood(atoll(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: probe stamp|once FILE TAG | orphans FILE TAG N"
                    " | flood BYTES LINE_LEN\n");
    return 2;
}
