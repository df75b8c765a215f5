/* Every plain socket option, one row each, guarded by the macro that says the platform has
 * it. Included by options.c several times with different definitions of:
 *
 *   OPTION(getter, setter, level, optname, shape)   a get/set pair
 *   OPTION_GET(getter, level, optname, shape)        a read-only option
 *
 * shape is one of the SHAPE_* names in options.c (BOOL, INT, TIMEOUT, OPTIONAL_INT, ...).
 * Options that are not a plain value (keepalive, multicast membership, filters, ...) are
 * written by hand in options.c, not listed here. No include guard: meant to be re-read. */

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
OPTION(reuse_address, set_reuse_address, SOL_SOCKET, SO_REUSEADDR, BOOL)
OPTION(out_of_band_inline, set_out_of_band_inline, SOL_SOCKET, SO_OOBINLINE, BOOL)
OPTION(recv_buffer_size, set_recv_buffer_size, SOL_SOCKET, SO_RCVBUF, INT)
OPTION(send_buffer_size, set_send_buffer_size, SOL_SOCKET, SO_SNDBUF, INT)

/* ---- IPPROTO_TCP ---- */
OPTION(tcp_nodelay, set_tcp_nodelay, IPPROTO_TCP, TCP_NODELAY, BOOL)
