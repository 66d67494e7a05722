/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Network flow records: kernel (bpf/network.bpf.c) to user space
 * (collectors/network/). See docs/network.md.
 *
 * Every inet socket a process creates gets a vigil_sock (socket-local
 * storage) naming its owner; accepted sockets inherit the listener's. Flow
 * records carry that owner, so a state change in softirq context is still
 * attributed to the process that owns the socket.
 */
#pragma once

#include "common.h"

#define VIGIL_DNS_CAP 512 /* bytes of a DNS payload captured */

/* vigil_net_event.type */
enum vigil_net_type {
	VIGIL_NET_CONNECT = 1, /* active open reached ESTABLISHED */
	VIGIL_NET_ACCEPT = 2, /* passive open reached ESTABLISHED */
	VIGIL_NET_CLOSE = 3, /* an established TCP flow closed: final counters */
	VIGIL_NET_CONNECT_FAIL = 4, /* an active open never got established: error says why */
	VIGIL_NET_UPDATE = 5, /* interim counters of a live flow (flow iterator) */
	VIGIL_NET_UDP = 6, /* UDP counters of one (socket, peer): peer changed, socket released, or interim */
};

/* Who owns a socket: filled at socket creation (and at connect) in process context. */
struct vigil_net_owner {
	__u32 pid; /* thread-group id */
	__u32 tid;
	__u64 exec_id; /* from the process map; 0 when unknown (user space resolves by pid) */
	__u64 cgroup_id;
	__u32 uid;
	__u32 netns; /* network namespace inode */
	char comm[16];
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_net_owner) == 48, "vigil_net_owner size");

/* Addresses in network byte order; IPv4 in the first 4 bytes. Ports in host order. */
struct vigil_net_tuple {
	__u16 family; /* AF_INET or AF_INET6 */
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
	__u16 lport; /* local port */
	__u16 rport; /* remote port */
	__u8 laddr[16];
	__u8 raddr[16];
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_net_tuple) == 40, "vigil_net_tuple size");

/* Traffic counters of a flow. */
struct vigil_net_counters {
	__u64 bytes_sent; /* TCP: payload bytes sent (retransmissions included); UDP: payload bytes */
	__u64 bytes_received; /* payload bytes received */
	__u32 packets_sent; /* TCP: segments; UDP: datagrams */
	__u32 packets_received;
	__u32 retransmits; /* TCP segments retransmitted */
	__u32 srtt_us; /* TCP smoothed round-trip time */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_net_counters) == 32, "vigil_net_counters size");

/* vigil_sock.flags */
#define VIGIL_SOCK_F_OWNED (1U << 0) /* owner filled */
#define VIGIL_SOCK_F_ACTIVE (1U << 1) /* this side connected (client) */
#define VIGIL_SOCK_F_PASSIVE (1U << 2) /* TCP: accepted from a listener; UDP: the peer spoke first */
#define VIGIL_SOCK_F_FIN_IN (1U << 3) /* the peer's FIN arrived (counted by the kernel as a byte) */
#define VIGIL_SOCK_F_REPORTED (1U << 4) /* CONNECT/ACCEPT sent */
#define VIGIL_SOCK_F_UDP_PEER (1U << 5) /* UDP: tuple/udp hold a peer */
#define VIGIL_SOCK_F_SELF (1U << 31) /* the agent's own socket: never reported */

/* Socket-local storage ("vigil_socks"), cloned to accepted children. */
struct vigil_sock {
	struct vigil_net_owner owner;
	__u64 start_ns; /* CLOCK_BOOTTIME ns: connect started / accepted / first UDP datagram */
	__u32 flags; /* VIGIL_SOCK_F_* */
	__u32 retransmits; /* counted by tcp_retransmit_skb */
	struct vigil_net_tuple tuple; /* TCP: the flow when established (the kernel clears the
					 local port before the close); UDP: the peer counted in udp */
	struct vigil_net_counters udp; /* UDP: since start_ns or the last report */
	__u64 updated_ns; /* last interim report */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_sock) == 144, "vigil_sock size");

#define VIGIL_NET_VERSION 1

/* VIGIL_EV_NET */
struct vigil_net_event {
	struct vigil_event_header hdr;
	__u32 type; /* enum vigil_net_type */
	__s32 error; /* CONNECT_FAIL: the socket error (ECONNREFUSED, ETIMEDOUT, ...) */
	__u32 oldstate; /* TCP state before the change (TCP_* of include/net/tcp_states.h) */
	__u32 newstate; /* TCP state after it */
	struct vigil_net_owner owner;
	struct vigil_net_tuple tuple;
	__u64 cookie; /* socket cookie: one id per socket for its lifetime */
	__u64 start_ns; /* flow start, CLOCK_BOOTTIME ns */
	struct vigil_net_counters counters;
	__u32 flags; /* the socket's VIGIL_SOCK_F_* */
	__u32 pad;
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_net_event) == 184, "vigil_net_event size");

/* vigil_dns_event.direction */
#define VIGIL_DNS_QUERY 1 /* sent by this socket to port 53 */
#define VIGIL_DNS_ANSWER 2 /* received by this socket from port 53 */

#define VIGIL_DNS_VERSION 1

/* VIGIL_EV_DNS: one DNS message seen by its client socket. */
struct vigil_dns_event {
	struct vigil_event_header hdr;
	struct vigil_net_owner owner;
	struct vigil_net_tuple tuple; /* local = the client, remote = the server */
	__u64 cookie;
	__u32 direction; /* VIGIL_DNS_* */
	__u32 len; /* payload bytes captured (<= VIGIL_DNS_CAP) */
	__u32 wire_len; /* payload bytes on the wire */
	__u32 pad;
	__u8 payload[VIGIL_DNS_CAP]; /* UDP payload, or TCP payload (with its 2-byte length prefix) */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_dns_event) == 648, "vigil_dns_event size");
