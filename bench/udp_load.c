/* A closed-loop UDP echo load generator (bench: the asyncio echo workload).
 *
 *   udp_load HOST PORT COUNT WINDOW SIZE [gso]
 *
 * Keeps WINDOW datagrams of SIZE bytes in flight to an echo server at HOST:PORT (IPv4)
 * until COUNT echoes came back, refilling the window with sendmmsg as recvmmsg takes
 * echoes. Then it sends one empty datagram (the stop signal of servers that watch for it)
 * and prints "echoed lost elapsed_ns". A datagram counts as lost when nothing arrives for
 * a second: the run stops there. Linux (sendmmsg/recvmmsg). Built by pysock2/_bench.py
 * at run time: cc -O2 -o udp_load udp_load.c
 *
 * Without `gso` every datagram leaves as its own message (its own skb). With `gso` each
 * refill leaves as UDP_SEGMENT trains of up to GSO_SEGMENTS datagrams, as QUIC stacks
 * send: the same datagrams on the wire, but a receiver with UDP_GRO gets each train as
 * one coalesced receive (on loopback only such a sender produces them; over a NIC the
 * kernel's GRO engine coalesces a flow's datagrams). Other receivers get the datagrams one
 * by one, the kernel cutting the train apart before queueing it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/udp.h>
#ifndef SOL_UDP
#  define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#  define UDP_SEGMENT 103
#endif

#define MAX_WINDOW 1024
#define MAX_SIZE 2048
#define GSO_SEGMENTS 64        /* UDP_MAX_SEGMENTS of older kernels */
#define GSO_BYTES 65000        /* a train stays within one IPv4 datagram's payload */

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct mmsghdr tx[MAX_WINDOW], rx[MAX_WINDOW];
static struct iovec tx_iov[MAX_WINDOW], rx_iov[MAX_WINDOW];
static char payload[GSO_SEGMENTS * MAX_SIZE];
static char slots[MAX_WINDOW][MAX_SIZE];
static union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} controls[MAX_WINDOW];

/* Sends n datagrams one message each; returns how many went (a full send buffer takes
 * fewer). */
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

/* Sends n datagrams of `size` bytes as UDP_SEGMENT trains of `per_train`; returns how many
 * datagrams went. A train that goes, goes whole (one message). */
static long
send_trains(int fd, long n, int size, long per_train)
{
    long msgs = 0;
    for (long left = n; left > 0; msgs++) {
        long k = left < per_train ? left : per_train;
        tx_iov[msgs].iov_len = (size_t)(k * size);
        tx[msgs].msg_hdr.msg_control = k > 1 ? controls[msgs].buf : NULL;
        tx[msgs].msg_hdr.msg_controllen = k > 1 ? sizeof(controls[msgs].buf) : 0;
        left -= k;
    }
    long sent = 0;
    for (long m = 0; m < msgs;) {
        int k = sendmmsg(fd, tx + m, (unsigned int)(msgs - m), MSG_DONTWAIT);
        if (k <= 0) {
            break;
        }
        for (int i = 0; i < k; i++) {
            sent += (long)tx_iov[m + i].iov_len / size;
        }
        m += k;
    }
    return sent;
}

int
main(int argc, char **argv)
{
    if (argc != 6 && !(argc == 7 && strcmp(argv[6], "gso") == 0)) {
        fprintf(stderr, "usage: udp_load HOST PORT COUNT WINDOW SIZE [gso]\n");
        return 2;
    }
    int gso = argc == 7;
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
    long per_train = GSO_BYTES / size < GSO_SEGMENTS ? GSO_BYTES / size : GSO_SEGMENTS;
    memset(payload, 'e', sizeof(payload));
    for (long i = 0; i < window; i++) {
        tx_iov[i].iov_base = payload;
        tx_iov[i].iov_len = (size_t)size;
        tx[i].msg_hdr.msg_iov = &tx_iov[i];
        tx[i].msg_hdr.msg_iovlen = 1;
        struct cmsghdr *c = &controls[i].align;
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment = (uint16_t)size;
        memcpy(CMSG_DATA(c), &segment, sizeof(segment));
        rx_iov[i].iov_base = slots[i];
        rx_iov[i].iov_len = MAX_SIZE;
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
    }
    long long start = now_ns();
    long first = window < count ? window : count;
    long sent = gso ? send_trains(fd, first, size, per_train) : send_some(fd, first);
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
            long n = target - sent;  /* refill the window */
            sent += gso ? send_trains(fd, n, size, per_train) : send_some(fd, n);
        }
    }
    long long elapsed = now_ns() - start;
    send(fd, payload, 0, 0);  /* the stop signal */
    printf("%ld %ld %lld\n", echoed, sent - echoed, elapsed);
    fflush(stdout);
    close(fd);
    return 0;
}
