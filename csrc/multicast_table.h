/* The multicast membership calls, one row each: MEMBERSHIP(name, level, optname, kind),
 * where kind says which request structure the arguments fill (see multicast.c). Gates
 * follow socket2 0.6. No include guard: multicast.c reads it twice. */
MEMBERSHIP(join_multicast_v4, IPPROTO_IP, IP_ADD_MEMBERSHIP, MREQ)
MEMBERSHIP(leave_multicast_v4, IPPROTO_IP, IP_DROP_MEMBERSHIP, MREQ)
#ifdef PYSOCK2_HAS_MREQN
MEMBERSHIP(join_multicast_v4_n, IPPROTO_IP, IP_ADD_MEMBERSHIP, MREQN)
MEMBERSHIP(leave_multicast_v4_n, IPPROTO_IP, IP_DROP_MEMBERSHIP, MREQN)
#endif
#if defined(IP_ADD_SOURCE_MEMBERSHIP) && !defined(__NetBSD__) && !defined(__OpenBSD__) \
    && !defined(__DragonFly__) && !defined(__Fuchsia__)
MEMBERSHIP(join_ssm_v4, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, SOURCE)
MEMBERSHIP(leave_ssm_v4, IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, SOURCE)
#endif
MEMBERSHIP(join_multicast_v6, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, MREQ6)
MEMBERSHIP(leave_multicast_v6, IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, MREQ6)
