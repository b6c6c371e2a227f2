/*
** bench/net/raw_rtt.c: the floor for a round trip between two processes on
** loopback — raw TCP in C, TCP_NODELAY, a 32-byte message echoed back.
** Forks an echo process, then times N round trips (default 20,000, after
** 2,000 to warm up) and prints p50 and p99 in microseconds as JSON lines
** (bench/net/run.sh). Single-threaded in each process. Three times: with
** blocking reads (impl raw_tcp: each side sleeps in read and is woken),
** with both sides spinning on non-blocking reads (impl raw_tcp_poll: no
** sleep, no wake-up — what a process that polls can reach at best), and
** with both sides spinning on epoll_wait with a zero timeout, then
** reading (impl raw_tcp_epoll: an event loop that polls, as a Stage node's
** libuv loop does for 50 us after each message — the same system calls
** per message as the node, without the node's own work).
**   raw_rtt [N]
*/
#define _DEFAULT_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 32

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { BLOCK, POLL, EPOLL };
static int mode;

/* Spin on epoll_wait(0) until fd is readable (EPOLL mode). */
static void wait_readable(int fd) {
    static int ep = -1, ep_fd = -1;
    if (ep_fd != fd) {
        if (ep >= 0) close(ep);
        ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        ep_fd = fd;
    }
    struct epoll_event got;
    while (epoll_wait(ep, &got, 1, 0) == 0)
        ;
}

/* Read exactly n bytes; 0, or -1 on error or end of stream. */
static int read_all(int fd, char *buf, size_t n) {
    int poll_mode = mode != BLOCK;
    for (size_t got = 0; got < n;) {
        if (mode == EPOLL) wait_readable(fd);
        ssize_t r = recv(fd, buf + got, n - got, poll_mode ? MSG_DONTWAIT : 0);
        if (r < 0 && poll_mode && (errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* The echo process: accept one connection, send back what comes. */
static void echo(int lfd) {
    int fd = accept(lfd, NULL, NULL);
    char buf[MSG];
    if (fd < 0) _exit(1);
    nodelay(fd);
    while (read_all(fd, buf, MSG) == 0)
        if (write(fd, buf, MSG) != MSG) break;
    _exit(0);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *bench, double v) {
    printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"value\":%.2f,"
           "\"unit\":\"us\",\"better\":\"lower\"}\n",
           bench,
           mode == BLOCK  ? "raw_tcp"
           : mode == POLL ? "raw_tcp_poll"
                          : "raw_tcp_epoll",
           v);
}

static int run(int n);

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    if (n < 100) n = 100;
    if (run(n)) return 1;
    mode = POLL;
    if (run(n)) return 1;
    mode = EPOLL;
    return run(n);
}

/* One measurement: an echo process and n timed round trips. */
static int run(int n) {
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) ||
        listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&a, &alen)) {
        perror("raw_rtt: listen");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) echo(lfd);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (pid < 0 || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        perror("raw_rtt: connect");
        return 1;
    }
    nodelay(fd);
    double *d = malloc(sizeof *d * (size_t)n);
    char buf[MSG] = "round trip";
    for (int i = -2000; i < n; i++) {
        double t0 = now();
        if (write(fd, buf, MSG) != MSG || read_all(fd, buf, MSG)) {
            perror("raw_rtt: echo");
            return 1;
        }
        if (i >= 0) d[i] = now() - t0;
    }
    close(fd);
    waitpid(pid, NULL, 0);
    qsort(d, (size_t)n, sizeof *d, cmp);
    report("remote_rtt_p50", d[n / 2] * 1e6);
    report("remote_rtt_p99", d[(size_t)n * 99 / 100] * 1e6);
    fflush(stdout);
    free(d);
    close(lfd);
    return 0;
}
