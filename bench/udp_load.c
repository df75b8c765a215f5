/* A closed-loop UDP echo load generator (bench: the asyncio echo workload).
 *
 *   udp_load HOST PORT COUNT WINDOW SIZE
 *
 * Keeps WINDOW datagrams of SIZE bytes in flight to an echo server at HOST:PORT (IPv4)
 * until COUNT echoes came back, refilling the window with sendmmsg as recvmmsg takes
 * echoes. Then it sends one empty datagram (the stop signal of servers that watch for it)
 * and prints "echoed lost elapsed_ns". A datagram counts as lost when nothing arrives for
 * a second: the run stops there. Linux (sendmmsg/recvmmsg). Built by pysock2/_bench.py
 * at run time: cc -O2 -o udp_load udp_load.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOW 1024
#define MAX_SIZE 2048

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct mmsghdr tx[MAX_WINDOW], rx[MAX_WINDOW];
static struct iovec tx_iov[MAX_WINDOW], rx_iov[MAX_WINDOW];
static char payload[MAX_SIZE];
static char slots[MAX_WINDOW][MAX_SIZE];

/* Sends n datagrams; returns how many went (a full send buffer takes fewer). */
static long
send_some(int fd, long n)
{
    long sent = 0;
    while (sent < n) {
        int k = sendmmsg(fd, tx, (unsigned int)(n - sent), MSG_DONTWAIT);
        if (k <= 0) {
            break;
        }
        sent += k;
    }
    return sent;
}

int
main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: udp_load HOST PORT COUNT WINDOW SIZE\n");
        return 2;
    }
    long count = atol(argv[3]);
    long window = atol(argv[4]);
    int size = atoi(argv[5]);
    if (count < 1 || window < 1 || window > MAX_WINDOW || size < 1 || size > MAX_SIZE) {
        fprintf(stderr, "udp_load: bad COUNT, WINDOW (1-%d) or SIZE (1-%d)\n", MAX_WINDOW,
                MAX_SIZE);
        return 2;
    }
    struct sockaddr_in server;
    memset(&server, 0, sizeof(server));
    server.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) {
        fprintf(stderr, "udp_load: HOST must be an IPv4 address\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buffer = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
        perror("udp_load");
        return 1;
    }
    memset(payload, 'e', sizeof(payload));
    for (long i = 0; i < window; i++) {
        tx_iov[i].iov_base = payload;
        tx_iov[i].iov_len = (size_t)size;
        tx[i].msg_hdr.msg_iov = &tx_iov[i];
        tx[i].msg_hdr.msg_iovlen = 1;
        rx_iov[i].iov_base = slots[i];
        rx_iov[i].iov_len = MAX_SIZE;
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
    }
    long long start = now_ns();
    long sent = send_some(fd, window < count ? window : count);
    long echoed = 0;
    while (echoed < count) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0) {
            break;  /* a second of silence: the rest is lost */
        }
        int got = recvmmsg(fd, rx, (unsigned int)window, MSG_DONTWAIT, NULL);
        if (got < 0) {
            continue;  /* ICMP error or spurious wakeup */
        }
        echoed += got;
        long target = echoed + window < count ? echoed + window : count;
        if (sent < target) {
            sent += send_some(fd, target - sent);  /* refill the window */
        }
    }
    long long elapsed = now_ns() - start;
    send(fd, payload, 0, 0);  /* the stop signal */
    printf("%ld %ld %lld\n", echoed, sent - echoed, elapsed);
    fflush(stdout);
    close(fd);
    return 0;
}
