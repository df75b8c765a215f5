/* Every plain socket option, one row each, guarded by what says the platform has it (the
 * gates follow socket2 0.6's cfg with feature "all"). Included by options.c several times
 * with different definitions of:
 *
 *   OPTION(getter, setter, level, optname, shape)   a get/set pair
 *   OPTION_GET(getter, level, optname, shape)        a read-only option
 *   OPTION_SET(setter, level, optname, shape)        a write-only option
 *
 * shape is one of the SHAPE_* names in options.c; docs/options.md says what each means in
 * Python. Options that are not a plain value (keepalive, multicast membership, filters,
 * original_dst, TCP_INFO, ...) are written by hand in multicast.c and options_special.c.
 * The "beyond socket2" block at the end holds options socket2 does not have.
 * No include guard: meant to be re-read. */

/* ---- SOL_SOCKET ---- */
OPTION_GET(type, SOL_SOCKET, SO_TYPE, INT)
#ifdef SO_DOMAIN
OPTION_GET(domain, SOL_SOCKET, SO_DOMAIN, INT)
#endif
#ifdef SO_PROTOCOL
OPTION_GET(protocol, SOL_SOCKET, SO_PROTOCOL, OPTIONAL_INT)
#endif
#if defined(SO_ACCEPTCONN) && (defined(__linux__) || defined(__FreeBSD__) || defined(_AIX))
OPTION_GET(is_listener, SOL_SOCKET, SO_ACCEPTCONN, BOOL)
#endif
OPTION(read_timeout, set_read_timeout, SOL_SOCKET, SO_RCVTIMEO, TIMEOUT)
OPTION(write_timeout, set_write_timeout, SOL_SOCKET, SO_SNDTIMEO, TIMEOUT)
OPTION(broadcast, set_broadcast, SOL_SOCKET, SO_BROADCAST, BOOL)
OPTION(keepalive, set_keepalive, SOL_SOCKET, SO_KEEPALIVE, BOOL)
OPTION(linger, set_linger, SOL_SOCKET, PYSOCK2_SO_LINGER, LINGER)
OPTION(reuse_address, set_reuse_address, SOL_SOCKET, SO_REUSEADDR, BOOL)
OPTION(out_of_band_inline, set_out_of_band_inline, SOL_SOCKET, SO_OOBINLINE, BOOL)
OPTION(recv_buffer_size, set_recv_buffer_size, SOL_SOCKET, SO_RCVBUF, NONNEG)
OPTION(send_buffer_size, set_send_buffer_size, SOL_SOCKET, SO_SNDBUF, NONNEG)
#if defined(SO_REUSEPORT) && !defined(__sun) && !defined(__CYGWIN__)
OPTION(reuse_port, set_reuse_port, SOL_SOCKET, SO_REUSEPORT, BOOL)
#endif
#ifdef SO_REUSEPORT_LB
OPTION(reuse_port_lb, set_reuse_port_lb, SOL_SOCKET, SO_REUSEPORT_LB, BOOL)
#endif
#ifdef SO_SETFIB
OPTION_SET(set_fib, SOL_SOCKET, SO_SETFIB, U32)
#endif
#ifdef SYS_HAS_NOSIGPIPE
OPTION_SET(set_nosigpipe, SOL_SOCKET, SO_NOSIGPIPE, BOOL)
#endif
#if defined(SO_PASSCRED) && (defined(__linux__) || defined(__CYGWIN__))
OPTION(passcred, set_passcred, SOL_SOCKET, SO_PASSCRED, BOOL)
#endif
#ifdef __linux__
OPTION(priority, set_priority, SOL_SOCKET, SO_PRIORITY, U32)
OPTION(mark, set_mark, SOL_SOCKET, SO_MARK, U32)
OPTION(device, bind_device, SOL_SOCKET, SO_BINDTODEVICE, OPTIONAL_BYTES)
#endif
#ifdef SO_BINDTOIFINDEX
OPTION(device_index_v4, bind_device_by_index_v4, SOL_SOCKET, SO_BINDTOIFINDEX, OPTIONAL_U32)
OPTION(device_index_v6, bind_device_by_index_v6, SOL_SOCKET, SO_BINDTOIFINDEX, OPTIONAL_U32)
#elif defined(IP_BOUND_IF) && (defined(__APPLE__) || defined(__sun))
OPTION(device_index_v4, bind_device_by_index_v4, IPPROTO_IP, IP_BOUND_IF, OPTIONAL_U32)
#  ifdef IPV6_BOUND_IF
OPTION(device_index_v6, bind_device_by_index_v6, IPPROTO_IPV6, IPV6_BOUND_IF, OPTIONAL_U32)
#  endif
#endif
#ifdef SO_INCOMING_CPU
OPTION(cpu_affinity, set_cpu_affinity, SOL_SOCKET, SO_INCOMING_CPU, NONNEG)
#endif
#ifdef SO_COOKIE
OPTION_GET(cookie, SOL_SOCKET, SO_COOKIE, U64)
#endif
#ifdef SO_BUSY_POLL
OPTION(busy_poll, set_busy_poll, SOL_SOCKET, SO_BUSY_POLL, NONNEG)
#endif

/* ---- IPPROTO_IP ---- */
OPTION(ttl_v4, set_ttl_v4, IPPROTO_IP, IP_TTL, U32)
#if defined(IP_TOS) && !defined(__sun) && !defined(__Fuchsia__)
OPTION(tos_v4, set_tos_v4, IPPROTO_IP, IP_TOS, U32)
#endif
#if defined(IP_RECVTOS) \
    && (defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__) || defined(_WIN32))
OPTION(recv_tos_v4, set_recv_tos_v4, IPPROTO_IP, IP_RECVTOS, BOOL)
#endif
#ifdef IP_HDRINCL
OPTION(header_included_v4, set_header_included_v4, IPPROTO_IP, IP_HDRINCL, BOOL)
#endif
#ifdef __linux__
OPTION(ip_transparent_v4, set_ip_transparent_v4, IPPROTO_IP, IP_TRANSPARENT, BOOL)
OPTION(freebind_v4, set_freebind_v4, IPPROTO_IP, IP_FREEBIND, BOOL)
OPTION(multicast_all_v4, set_multicast_all_v4, IPPROTO_IP, IP_MULTICAST_ALL, BOOL)
#endif
OPTION(multicast_if_v4, set_multicast_if_v4, IPPROTO_IP, IP_MULTICAST_IF, IPV4)
OPTION(multicast_loop_v4, set_multicast_loop_v4, IPPROTO_IP, IP_MULTICAST_LOOP, BOOL)
OPTION(multicast_ttl_v4, set_multicast_ttl_v4, IPPROTO_IP, IP_MULTICAST_TTL, U32)

/* ---- IPPROTO_IPV6 ---- */
OPTION(only_v6, set_only_v6, IPPROTO_IPV6, IPV6_V6ONLY, BOOL)
OPTION(unicast_hops_v6, set_unicast_hops_v6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, U32)
OPTION(multicast_hops_v6, set_multicast_hops_v6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, U32)
OPTION(multicast_if_v6, set_multicast_if_v6, IPPROTO_IPV6, IPV6_MULTICAST_IF, U32)
OPTION(multicast_loop_v6, set_multicast_loop_v6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, BOOL)
#if defined(IPV6_TCLASS) && !defined(_WIN32)
OPTION(tclass_v6, set_tclass_v6, IPPROTO_IPV6, IPV6_TCLASS, U32)
#endif
#if defined(IPV6_RECVTCLASS) && !defined(__NetBSD__) && !defined(__OpenBSD__) \
    && !defined(__DragonFly__) && !defined(__sun)
OPTION(recv_tclass_v6, set_recv_tclass_v6, IPPROTO_IPV6, IPV6_RECVTCLASS, BOOL)
#endif
#if defined(IPV6_RECVHOPLIMIT) && !defined(_WIN32) && !defined(__NetBSD__) \
    && !defined(__OpenBSD__) && !defined(__DragonFly__) && !defined(__sun)
OPTION(recv_hoplimit_v6, set_recv_hoplimit_v6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, BOOL)
#endif
/* Linux has its own IPV6_HDRINCL. socket2's getter reads IP_HDRINCL at IPPROTO_IPV6 there
 * (another option); pysock2 reads what it sets. */
#ifdef __linux__
OPTION(header_included_v6, set_header_included_v6, IPPROTO_IPV6, IPV6_HDRINCL, BOOL)
OPTION(ip_transparent_v6, set_ip_transparent_v6, IPPROTO_IPV6, IPV6_TRANSPARENT, BOOL)
OPTION(freebind_v6, set_freebind_v6, IPPROTO_IPV6, IPV6_FREEBIND, BOOL)
OPTION(multicast_all_v6, set_multicast_all_v6, IPPROTO_IPV6, IPV6_MULTICAST_ALL, BOOL)
#elif defined(IP_HDRINCL) && !defined(__FreeBSD__) && !defined(__NetBSD__) \
    && !defined(__OpenBSD__) && !defined(__DragonFly__)
OPTION(header_included_v6, set_header_included_v6, IPPROTO_IPV6, IP_HDRINCL, BOOL)
#endif

/* ---- IPPROTO_TCP ---- */
OPTION(tcp_nodelay, set_tcp_nodelay, IPPROTO_TCP, TCP_NODELAY, BOOL)
#if defined(PYSOCK2_TCP_KEEPIDLE) && !defined(_WIN32)
OPTION_GET(tcp_keepalive_time, IPPROTO_TCP, PYSOCK2_TCP_KEEPIDLE, SECONDS)
#endif
#if defined(TCP_KEEPINTVL) && !defined(_WIN32)
OPTION_GET(tcp_keepalive_interval, IPPROTO_TCP, TCP_KEEPINTVL, SECONDS)
#endif
#ifdef TCP_KEEPCNT
OPTION_GET(tcp_keepalive_retries, IPPROTO_TCP, TCP_KEEPCNT, U32)
#endif
#if defined(TCP_MAXSEG) && !defined(_WIN32)
OPTION(tcp_mss, set_tcp_mss, IPPROTO_TCP, TCP_MAXSEG, U32)
#endif
#ifdef __linux__
OPTION(tcp_cork, set_tcp_cork, IPPROTO_TCP, TCP_CORK, BOOL)
OPTION(tcp_quickack, set_tcp_quickack, IPPROTO_TCP, TCP_QUICKACK, BOOL)
OPTION(tcp_thin_linear_timeouts, set_tcp_thin_linear_timeouts, IPPROTO_TCP,
       TCP_THIN_LINEAR_TIMEOUTS, BOOL)
OPTION(tcp_user_timeout, set_tcp_user_timeout, IPPROTO_TCP, TCP_USER_TIMEOUT, MILLIS)
OPTION(tcp_notsent_lowat, set_tcp_notsent_lowat, IPPROTO_TCP, TCP_NOTSENT_LOWAT, U32)
#endif
#if defined(TCP_CONGESTION) && (defined(__linux__) || defined(__FreeBSD__))
OPTION(tcp_congestion, set_tcp_congestion, IPPROTO_TCP, TCP_CONGESTION, BYTES)
#endif

/* ---- SOL_DCCP (Linux) ---- */
#ifdef __linux__
OPTION(dccp_service, set_dccp_service, SOL_DCCP, DCCP_SOCKOPT_SERVICE, U32)
OPTION_SET(set_dccp_ccid, SOL_DCCP, DCCP_SOCKOPT_CCID, U8)
OPTION_GET(dccp_tx_ccid, SOL_DCCP, DCCP_SOCKOPT_TX_CCID, U32)
OPTION_GET(dccp_xx_ccid, SOL_DCCP, DCCP_SOCKOPT_RX_CCID, U32)
OPTION(dccp_server_timewait, set_dccp_server_timewait, SOL_DCCP, DCCP_SOCKOPT_SERVER_TIMEWAIT, BOOL)
OPTION(dccp_send_cscov, set_dccp_send_cscov, SOL_DCCP, DCCP_SOCKOPT_SEND_CSCOV, U32)
OPTION(dccp_recv_cscov, set_dccp_recv_cscov, SOL_DCCP, DCCP_SOCKOPT_RECV_CSCOV, U32)
OPTION(dccp_qpolicy_txqlen, set_dccp_qpolicy_txqlen, SOL_DCCP, DCCP_SOCKOPT_QPOLICY_TXQLEN, U32)
OPTION_GET(dccp_cur_mps, SOL_DCCP, DCCP_SOCKOPT_GET_CUR_MPS, U32)
#endif

/* ---- beyond socket2 (docs/options.md) ---- */
#if defined(SO_RCVLOWAT) && !defined(_WIN32)
OPTION(recv_lowat, set_recv_lowat, SOL_SOCKET, SO_RCVLOWAT, NONNEG)
#endif
#ifdef SO_ZEROCOPY
OPTION(zerocopy, set_zerocopy, SOL_SOCKET, SO_ZEROCOPY, BOOL)
#endif
#if defined(SO_TIMESTAMP) && !defined(_WIN32)
OPTION(timestamp, set_timestamp, SOL_SOCKET, SO_TIMESTAMP, BOOL)
#endif
#ifdef SO_TIMESTAMPNS
OPTION(timestamp_ns, set_timestamp_ns, SOL_SOCKET, SO_TIMESTAMPNS, BOOL)
#endif
#ifdef SO_TIMESTAMPING
OPTION(timestamping, set_timestamping, SOL_SOCKET, SO_TIMESTAMPING, U32)
#endif
#ifdef SO_EXCLUSIVEADDRUSE
OPTION(exclusive_address_use, set_exclusive_address_use, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, BOOL)
#endif
#ifdef IP_MTU_DISCOVER
OPTION(mtu_discover_v4, set_mtu_discover_v4, IPPROTO_IP, IP_MTU_DISCOVER, NONNEG)
#endif
#ifdef IPV6_MTU_DISCOVER
OPTION(mtu_discover_v6, set_mtu_discover_v6, IPPROTO_IPV6, IPV6_MTU_DISCOVER, NONNEG)
#endif
#if defined(IP_MTU) && defined(__linux__)
OPTION_GET(mtu_v4, IPPROTO_IP, IP_MTU, NONNEG)
#endif
#if defined(IPV6_MTU) && defined(__linux__)
OPTION_GET(mtu_v6, IPPROTO_IPV6, IPV6_MTU, NONNEG)
#endif
#if defined(IP_DONTFRAG)
OPTION(dontfrag_v4, set_dontfrag_v4, IPPROTO_IP, IP_DONTFRAG, BOOL)
#elif defined(IP_DONTFRAGMENT)
OPTION(dontfrag_v4, set_dontfrag_v4, IPPROTO_IP, IP_DONTFRAGMENT, BOOL)
#endif
#ifdef IPV6_DONTFRAG
OPTION(dontfrag_v6, set_dontfrag_v6, IPPROTO_IPV6, IPV6_DONTFRAG, BOOL)
#endif
#if defined(IP_PKTINFO) && !defined(__APPLE__)
OPTION(recv_pktinfo_v4, set_recv_pktinfo_v4, IPPROTO_IP, IP_PKTINFO, BOOL)
#endif
#ifdef IPV6_RECVPKTINFO
OPTION(recv_pktinfo_v6, set_recv_pktinfo_v6, IPPROTO_IPV6, IPV6_RECVPKTINFO, BOOL)
#endif
#if defined(IP_RECVERR) && defined(__linux__)
OPTION(recv_err_v4, set_recv_err_v4, IPPROTO_IP, IP_RECVERR, BOOL)
#endif
#if defined(IPV6_RECVERR) && defined(__linux__)
OPTION(recv_err_v6, set_recv_err_v6, IPPROTO_IPV6, IPV6_RECVERR, BOOL)
#endif
#ifdef IP_BIND_ADDRESS_NO_PORT
OPTION(bind_address_no_port_v4, set_bind_address_no_port_v4, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
       BOOL)
#endif
#ifdef IP_UNICAST_IF
OPTION(unicast_if_v4, set_unicast_if_v4, IPPROTO_IP, IP_UNICAST_IF, BE_U32)
#endif
/* The index is in network byte order, except for IPv6 on Windows. */
#if defined(IPV6_UNICAST_IF) && defined(_WIN32)
OPTION(unicast_if_v6, set_unicast_if_v6, IPPROTO_IPV6, IPV6_UNICAST_IF, U32)
#elif defined(IPV6_UNICAST_IF)
OPTION(unicast_if_v6, set_unicast_if_v6, IPPROTO_IPV6, IPV6_UNICAST_IF, BE_U32)
#endif
#ifdef TCP_FASTOPEN
OPTION(tcp_fastopen, set_tcp_fastopen, IPPROTO_TCP, TCP_FASTOPEN, NONNEG)
#endif
#if defined(TCP_FASTOPEN_CONNECT) && defined(__linux__)
OPTION(tcp_fastopen_connect, set_tcp_fastopen_connect, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, BOOL)
#endif
#ifdef __linux__
OPTION(udp_segment, set_udp_segment, SOL_UDP, UDP_SEGMENT, NONNEG)
OPTION(udp_gro, set_udp_gro, SOL_UDP, UDP_GRO, BOOL)
#endif
