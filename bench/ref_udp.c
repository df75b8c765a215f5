/* The C reference loops of the pysock2 benchmarks (bench/run.py, python -m pysock2 bench).
 *
 * Built by the benchmark at run time with the system compiler (cc -O2 -shared -fPIC) and
 * called through ctypes on the very sockets the Python loops use, so that C, the stdlib and
 * pysock2 run interleaved on one machine state. Each function runs its loop `iters` times
 * and returns the elapsed nanoseconds (CLOCK_MONOTONIC), or a negative number on error.
 * Linux-only parts (sendmmsg/recvmmsg, UDP_SEGMENT/UDP_GRO) are compiled where present. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <time.h>
#ifdef __linux__
#  include <netinet/udp.h>
#  ifndef SOL_UDP
#    define SOL_UDP 17
#  endif
#  ifndef UDP_SEGMENT
#    define UDP_SEGMENT 103
#  endif
#endif

#define MAX_BATCH 1024
#define BUF_SIZE 65536

static char tx_buf[BUF_SIZE];
static char rx_buf[BUF_SIZE];

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One datagram per system call: send `size` bytes on a, receive them on b. */
long long
ref_roundtrip(int a, int b, long iters, int size)
{
    long long start = now_ns();
    for (long i = 0; i < iters; i++) {
        if (send(a, tx_buf, (size_t)size, 0) != size) {
            return -1;
        }
        if (recv(b, rx_buf, sizeof(rx_buf), 0) != size) {
            return -2;
        }
    }
    return now_ns() - start;
}

#ifdef __linux__
/* `batch` datagrams of `size` bytes per sendmmsg, then per recvmmsg (MSG_WAITFORONE, as
 * Socket.recv_batch does), each into its own slot with its sender's address recorded (as
 * recv_batch records it for DatagramBatch.address). */
long long
ref_batch(int a, int b, long iters, int batch, int size)
{
    static struct mmsghdr tx[MAX_BATCH], rx[MAX_BATCH];
    static struct iovec tx_iov[MAX_BATCH], rx_iov[MAX_BATCH];
    static struct sockaddr_storage senders[MAX_BATCH];
    static char slots[MAX_BATCH][2048];
    if (batch < 1 || batch > MAX_BATCH || size < 0 || size > 2048) {
        return -3;
    }
    memset(tx, 0, sizeof(tx));
    memset(rx, 0, sizeof(rx));
    for (int i = 0; i < batch; i++) {
        tx_iov[i].iov_base = tx_buf;
        tx_iov[i].iov_len = (size_t)size;
        tx[i].msg_hdr.msg_iov = &tx_iov[i];
        tx[i].msg_hdr.msg_iovlen = 1;
        rx_iov[i].iov_base = slots[i];
        rx_iov[i].iov_len = sizeof(slots[i]);
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
        rx[i].msg_hdr.msg_name = &senders[i];
    }
    long long start = now_ns();
    for (long i = 0; i < iters; i++) {
        if (sendmmsg(a, tx, (unsigned int)batch, 0) != batch) {
            return -1;
        }
        for (int j = 0; j < batch; j++) {
            rx[j].msg_hdr.msg_namelen = sizeof(senders[j]);
        }
        int got = 0;
        while (got < batch) {
            int n = recvmmsg(b, rx + got, (unsigned int)(batch - got), MSG_WAITFORONE, NULL);
            if (n <= 0) {
                return -2;
            }
            got += n;
        }
    }
    return now_ns() - start;
}

/* One GSO send of `segments` datagrams of `size` bytes (UDP_SEGMENT control message), one
 * GRO receive of them all (the receiver has UDP_GRO on). */
long long
ref_gso(int a, int b, long iters, int segments, int size)
{
    long total = (long)segments * size;
    if (total > BUF_SIZE || size < 1) {
        return -3;
    }
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    struct iovec iov = {.iov_base = tx_buf, .iov_len = (size_t)total};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)size;
    memcpy(CMSG_DATA(c), &seg, sizeof(seg));
    char rx_control[256];
    long long start = now_ns();
    for (long i = 0; i < iters; i++) {
        if (sendmsg(a, &msg, 0) != total) {
            return -1;
        }
        long got = 0;
        while (got < total) {
            struct iovec riov = {.iov_base = rx_buf, .iov_len = sizeof(rx_buf)};
            struct msghdr rmsg;
            memset(&rmsg, 0, sizeof(rmsg));
            rmsg.msg_iov = &riov;
            rmsg.msg_iovlen = 1;
            rmsg.msg_control = rx_control;
            rmsg.msg_controllen = sizeof(rx_control);
            ssize_t n = recvmsg(b, &rmsg, 0);
            if (n <= 0) {
                return -2;
            }
            got += n;
        }
    }
    return now_ns() - start;
}
#endif

#ifdef __linux__
#  ifndef UDP_GRO
#    define UDP_GRO 104
#  endif
enum { ECHO_PLAIN, ECHO_GSO, ECHO_GRO };
#  define ECHO_MAX_BATCH 64  /* slots of BUF_SIZE: room for a coalesced train each */

/* Arms `c` as a UDP_SEGMENT control message of `size`-byte segments. */
static void
set_segment(struct cmsghdr *c, unsigned int size)
{
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)size;
    memcpy(CMSG_DATA(c), &seg, sizeof(seg));
}

/* The GRO segment size of a received message, or its length when it holds one datagram. */
static unsigned int
gro_size(const struct msghdr *m, unsigned int len)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int size;
            memcpy(&size, CMSG_DATA(c), sizeof(size));
            return size > 0 && (unsigned int)size < len ? (unsigned int)size : len;
        }
    }
    return len;
}

/* The C echo servers of the asyncio echo workload: recvmmsg (MSG_WAITFORONE, as
 * recv_batch) into `batch` slots, then each datagram back to its sender with one
 * sendmmsg. ECHO_PLAIN: a message per datagram; ECHO_GSO: one UDP_SEGMENT message per run
 * of equal-size datagrams to one sender (what pysock2.aio's transport does); ECHO_GRO:
 * UDP_GRO on receive (a slot may hold a coalesced train) and each slot back as one
 * UDP_SEGMENT message of its segment size. Stops at an empty datagram (the load
 * generator's stop signal); returns the number of datagrams echoed, or < 0 on error. */
long long
ref_echo(int fd, int batch, int mode)
{
    static struct mmsghdr rx[ECHO_MAX_BATCH], tx[ECHO_MAX_BATCH];
    static struct iovec rx_iov[ECHO_MAX_BATCH];
    static struct sockaddr_storage senders[ECHO_MAX_BATCH];
    static char slots[ECHO_MAX_BATCH][BUF_SIZE];
    static union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } gro[ECHO_MAX_BATCH];
    static union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } controls[ECHO_MAX_BATCH];
    if (batch < 1 || batch > ECHO_MAX_BATCH || mode < ECHO_PLAIN || mode > ECHO_GRO) {
        return -3;
    }
    int on = 1;
    if (mode == ECHO_GRO && setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) < 0) {
        return -4;
    }
    memset(rx, 0, sizeof(rx));
    for (int i = 0; i < batch; i++) {
        rx_iov[i].iov_base = slots[i];
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
        rx[i].msg_hdr.msg_name = &senders[i];
    }
    long long echoed = 0;
    for (;;) {
        for (int i = 0; i < batch; i++) {
            rx_iov[i].iov_len = mode == ECHO_GRO ? BUF_SIZE : 2048;
            rx[i].msg_hdr.msg_namelen = sizeof(senders[i]);
            rx[i].msg_hdr.msg_control = mode == ECHO_GRO ? gro[i].buf : NULL;
            rx[i].msg_hdr.msg_controllen = mode == ECHO_GRO ? sizeof(gro[i].buf) : 0;
        }
        int got = recvmmsg(fd, rx, (unsigned int)batch, MSG_WAITFORONE, NULL);
        if (got <= 0) {
            return -2;
        }
        int stop = rx[got - 1].msg_len == 0;
        int n = stop ? got - 1 : got;
        int msgs = 0;
        for (int i = 0; i < n;) {
            int k = 1;
            unsigned int size = rx[i].msg_len;
            unsigned int segment = size;
            if (mode == ECHO_GRO) {
                segment = gro_size(&rx[i].msg_hdr, size);
                echoed += (size + segment - 1) / segment;
            }
            else {
                while (mode == ECHO_GSO && i + k < n && k < 64 && rx[i + k].msg_len == size
                       && rx[i + k].msg_hdr.msg_namelen == rx[i].msg_hdr.msg_namelen
                       && memcmp(&senders[i + k], &senders[i], rx[i].msg_hdr.msg_namelen) == 0) {
                    k++;
                }
                echoed += k;
            }
            memset(&tx[msgs], 0, sizeof(tx[msgs]));
            tx[msgs].msg_hdr.msg_name = &senders[i];
            tx[msgs].msg_hdr.msg_namelen = rx[i].msg_hdr.msg_namelen;
            tx[msgs].msg_hdr.msg_iov = &rx_iov[i];  /* the slots are consecutive iovecs */
            tx[msgs].msg_hdr.msg_iovlen = (size_t)k;
            for (int j = 0; j < k; j++) {
                rx_iov[i + j].iov_len = size;
            }
            if (k > 1 || segment < size) {
                set_segment(&controls[msgs].align, segment);
                tx[msgs].msg_hdr.msg_control = controls[msgs].buf;
                tx[msgs].msg_hdr.msg_controllen = sizeof(controls[msgs].buf);
            }
            msgs++;
            i += k;
        }
        for (int sent = 0; sent < msgs;) {
            int k = sendmmsg(fd, tx + sent, (unsigned int)(msgs - sent), 0);
            if (k <= 0) {
                return -1;
            }
            sent += k;
        }
        if (stop) {
            return echoed;
        }
    }
}
#endif
