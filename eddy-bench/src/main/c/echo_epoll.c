/*
 * The floor of the echo runner: a minimal echo server in C on level-triggered epoll, one thread.
 *
 * Every read lands in one shared 64 KiB buffer and is written back at once; only what the kernel does not
 * take is copied to the connection's own buffer, and the connection then waits for EPOLLOUT (not reading)
 * until that is sent. So an idle connection holds only its small struct, and a message costs one read and
 * one write, as in the plain java.nio server. Non-blocking accept4, TCP_NODELAY on accepted sockets.
 *
 * Built by EchoRunner at run time: cc -O2 -o eddy-bench/target/echo_epoll eddy-bench/src/main/c/echo_epoll.c
 * Usage: echo_epoll PORT (0: any free port). Prints "listening on 127.0.0.1:PORT" and runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUFFER (64 * 1024)
#define MAX_EVENTS 256
#define ACCEPTS_PER_EVENT 64

struct conn {
    int fd;
    char *pending;   /* bytes the kernel refused, or NULL */
    size_t off, len; /* pending[off..len) is still to be sent */
};

static int ep;
static char shared[READ_BUFFER];
static struct conn listener; /* its address marks the listening socket's events */

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void watch(int op, struct conn *c, unsigned events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &ev) < 0) {
        die("epoll_ctl");
    }
}

static void drop(struct conn *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c->pending);
    free(c);
}

static void accept_some(void) {
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        int fd = accept4(listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                perror("accept4"); /* e.g. EMFILE: level-triggered, so it is tried again on the next wait */
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            return;
        }
        c->fd = fd;
        watch(EPOLL_CTL_ADD, c, EPOLLIN);
    }
}

/* Sends what is pending; returns -1 if the connection failed, 0 otherwise. */
static int send_pending(struct conn *c) {
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->pending + c->off, c->len - c->off);
        if (n < 0) {
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }
        c->off += (size_t) n;
    }
    free(c->pending);
    c->pending = NULL;
    c->off = c->len = 0;
    watch(EPOLL_CTL_MOD, c, EPOLLIN);
    return 0;
}

/* One read, written straight back; the part the kernel refuses is kept. Returns -1 to close. */
static int echo(struct conn *c) {
    ssize_t n = read(c->fd, shared, sizeof shared);
    if (n == 0) {
        return -1;
    }
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    ssize_t w = write(c->fd, shared, (size_t) n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            return -1;
        }
        w = 0;
    }
    if (w < n) {
        c->len = (size_t) (n - w);
        c->off = 0;
        c->pending = malloc(c->len);
        if (c->pending == NULL) {
            return -1;
        }
        memcpy(c->pending, shared + w, c->len);
        watch(EPOLL_CTL_MOD, c, EPOLLOUT);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: echo_epoll PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a write to a closed peer fails with EPIPE instead */

    listener.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener.fd < 0) {
        die("socket");
    }
    int one = 1;
    setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short) atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener.fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
        die("bind");
    }
    if (listen(listener.fd, 65535) < 0) { /* the kernel caps it at net.core.somaxconn, as Eddy's default */
        die("listen");
    }
    socklen_t size = sizeof addr;
    if (getsockname(listener.fd, (struct sockaddr *) &addr, &size) < 0) {
        die("getsockname");
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1");
    }
    watch(EPOLL_CTL_ADD, &listener, EPOLLIN);
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == &listener) {
                accept_some();
            } else if (c->pending != NULL ? send_pending(c) < 0 : echo(c) < 0) {
                drop(c); /* EPOLLHUP/EPOLLERR land here too: the read or write reports the failure */
            }
        }
    }
}
