/* Option numbers that older C library headers lack, so that a build on an old distribution
 * (manylinux2014's glibc 2.17 headers) still offers every option the kernel ABI defines.
 * The kernel never renumbers an option; a kernel too old for one answers ENOPROTOOPT at
 * call time, as with socket2. Also the per-platform spellings of one option. */
#ifndef PYSOCK2_OPTIONS_COMPAT_H
#define PYSOCK2_OPTIONS_COMPAT_H

#ifdef __linux__
/* IPPROTO-level numbers are the same on every Linux architecture. */
#  ifndef IP_TRANSPARENT
#    define IP_TRANSPARENT 19
#  endif
#  ifndef IP_FREEBIND
#    define IP_FREEBIND 15
#  endif
#  ifndef IP_MULTICAST_ALL
#    define IP_MULTICAST_ALL 49
#  endif
#  ifndef IP_BIND_ADDRESS_NO_PORT
#    define IP_BIND_ADDRESS_NO_PORT 24
#  endif
#  ifndef IP_UNICAST_IF
#    define IP_UNICAST_IF 50
#  endif
#  ifndef IPV6_TRANSPARENT
#    define IPV6_TRANSPARENT 75
#  endif
#  ifndef IPV6_FREEBIND
#    define IPV6_FREEBIND 78
#  endif
#  ifndef IPV6_MULTICAST_ALL
#    define IPV6_MULTICAST_ALL 29
#  endif
#  ifndef IPV6_HDRINCL
#    define IPV6_HDRINCL 36
#  endif
#  ifndef IPV6_DONTFRAG
#    define IPV6_DONTFRAG 62
#  endif
#  ifndef IPV6_UNICAST_IF
#    define IPV6_UNICAST_IF 76
#  endif
#  ifndef SO_ORIGINAL_DST
#    define SO_ORIGINAL_DST 80      /* <linux/netfilter_ipv4.h> */
#  endif
#  ifndef IP6T_SO_ORIGINAL_DST
#    define IP6T_SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv6/ip6_tables.h> */
#  endif
#  ifndef TCP_THIN_LINEAR_TIMEOUTS
#    define TCP_THIN_LINEAR_TIMEOUTS 16
#  endif
#  ifndef TCP_USER_TIMEOUT
#    define TCP_USER_TIMEOUT 18
#  endif
#  ifndef TCP_FASTOPEN
#    define TCP_FASTOPEN 23
#  endif
#  ifndef TCP_NOTSENT_LOWAT
#    define TCP_NOTSENT_LOWAT 25
#  endif
#  ifndef TCP_FASTOPEN_CONNECT
#    define TCP_FASTOPEN_CONNECT 30
#  endif
#  ifndef SOL_UDP
#    define SOL_UDP 17
#  endif
#  ifndef UDP_SEGMENT
#    define UDP_SEGMENT 103
#  endif
#  ifndef UDP_GRO
#    define UDP_GRO 104
#  endif
/* SOL_DCCP and its options (<linux/dccp.h>, which newer kernels may stop shipping). */
#  ifndef SOL_DCCP
#    define SOL_DCCP 269
#  endif
#  ifndef DCCP_SOCKOPT_SERVICE
#    define DCCP_SOCKOPT_SERVICE 2
#    define DCCP_SOCKOPT_GET_CUR_MPS 5
#    define DCCP_SOCKOPT_SERVER_TIMEWAIT 6
#    define DCCP_SOCKOPT_SEND_CSCOV 10
#    define DCCP_SOCKOPT_RECV_CSCOV 11
#    define DCCP_SOCKOPT_AVAILABLE_CCIDS 12
#    define DCCP_SOCKOPT_CCID 13
#    define DCCP_SOCKOPT_TX_CCID 14
#    define DCCP_SOCKOPT_RX_CCID 15
#    define DCCP_SOCKOPT_QPOLICY_TXQLEN 17
#  endif
/* SOL_SOCKET numbers differ on alpha, mips, parisc and sparc; elsewhere they are these. */
#  if !defined(__alpha__) && !defined(__mips__) && !defined(__hppa__) && !defined(__sparc__)
#    ifndef SO_BUSY_POLL
#      define SO_BUSY_POLL 46
#    endif
#    ifndef SO_INCOMING_CPU
#      define SO_INCOMING_CPU 49
#    endif
#    ifndef SO_COOKIE
#      define SO_COOKIE 57
#    endif
#    ifndef SO_ZEROCOPY
#      define SO_ZEROCOPY 60
#    endif
#    ifndef SO_BINDTOIFINDEX
#      define SO_BINDTOIFINDEX 62
#    endif
#  endif
#endif /* __linux__ */

/* Windows 10 1703+ has TCP_KEEPCNT; older SDKs and mingw headers lack the name. */
#if defined(_WIN32) && !defined(TCP_KEEPCNT)
#  define TCP_KEEPCNT 16
#endif

/* Windows 10 2004+ reads a redirected connection's original destination at SOL_SOCKET
 * (mstcpip.h, 0x300F; windows-sys calls it 12303); mingw-w64's headers lack the name. */
#if defined(_WIN32) && !defined(SO_ORIGINAL_DST)
#  define SO_ORIGINAL_DST 0x300F
#endif

/* The idle time before keepalive probes: TCP_KEEPALIVE on Apple, TCP_KEEPIDLE elsewhere. */
#if defined(__APPLE__) && defined(TCP_KEEPALIVE)
#  define PYSOCK2_TCP_KEEPIDLE TCP_KEEPALIVE
#elif defined(TCP_KEEPIDLE)
#  define PYSOCK2_TCP_KEEPIDLE TCP_KEEPIDLE
#endif

/* Apple's SO_LINGER counts clock ticks; SO_LINGER_SEC counts seconds, as socket2 uses. */
#if defined(__APPLE__) && defined(SO_LINGER_SEC)
#  define PYSOCK2_SO_LINGER SO_LINGER_SEC
#else
#  define PYSOCK2_SO_LINGER SO_LINGER
#endif

/* Some systems name the IPv6 membership options after RFC 3493. */
#if !defined(IPV6_ADD_MEMBERSHIP) && defined(IPV6_JOIN_GROUP)
#  define IPV6_ADD_MEMBERSHIP IPV6_JOIN_GROUP
#  define IPV6_DROP_MEMBERSHIP IPV6_LEAVE_GROUP
#endif

/* The longest interface or congestion-control name, without its NUL (IFNAMSIZ and
 * TCP_CA_NAME_MAX are both 16). */
#define PYSOCK2_NAME_MAX 15

#endif /* PYSOCK2_OPTIONS_COMPAT_H */
