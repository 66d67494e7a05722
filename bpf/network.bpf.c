// SPDX-License-Identifier: GPL-2.0-only
/*
 * Network flows: TCP connect/accept/close with counters, failed connects,
 * UDP flows per (socket, peer), DNS messages, and interim updates of live
 * flows. Everything is attributed through a per-socket storage (vigil_socks)
 * that names the owning process: filled where a process acts (socket
 * creation, connect), read where the kernel acts (state changes in softirq,
 * packets), and cloned by the kernel to sockets accepted from a listener.
 *
 * The flow "table" is that socket storage: it lives and dies with each
 * socket, so it is bounded by the sockets themselves and never evicts.
 *
 * Shares the process object's ring buffer, counters and pid -> exec_id map
 * (collectors/network/network_bpf.cc).
 */
#include "lib/common.bpf.h"
#include "lib/task.bpf.h"
#include "lib/rate.bpf.h"
#include <bpf/bpf_endian.h>
#include "shared/network.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define DNS_PORT 53

/* TCP_* states come from vmlinux.h (include/net/tcp_states.h). */

const volatile __u32 self_tgid = 0;
const volatile __u32 dns_enabled = 1;
/* Optional per-cgroup rate limits (lib/rate.bpf.h), one for flow records and
 * one for DNS messages: 1e9 / records per second, and burst x that; 0: none. */
const volatile __u64 net_rate_cost_ns = 0;
const volatile __u64 net_rate_burst_ns = 0;

/* Rate limit state per cgroup id: flows, and DNS messages. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vigil_rate_state);
} vigil_net_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vigil_rate_state);
} vigil_dns_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct vigil_sock);
} vigil_socks SEC(".maps");

/* ---- owners ------------------------------------------------------------- */

static __always_inline void fill_owner(struct vigil_net_owner *o)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u64 *id = bpf_map_lookup_elem(&vigil_procs, &tgid);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	o->pid = tgid;
	o->tid = (__u32)pid_tgid;
	o->exec_id = id ? *id : 0;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->uid = (__u32)bpf_get_current_uid_gid();
	o->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	bpf_get_current_comm(&o->comm, sizeof(o->comm));
}

static __always_inline int is_self(void)
{
	return self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/*
 * Every inet socket a process creates: its owner. The agent's own sockets
 * are marked so nothing about them is ever reported.
 */
SEC("cgroup/sock_create")
int vigil_sock_create(struct bpf_sock *ctx)
{
	struct vigil_sock *s;

	if ((ctx->family != AF_INET && ctx->family != AF_INET6) ||
	    (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP))
		return 1;
	s = bpf_sk_storage_get(&vigil_socks, ctx, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		vigil_count(VIGIL_CNT_NET_STORAGE_FAIL);
		return 1;
	}
	if (is_self()) {
		s->flags = VIGIL_SOCK_F_SELF;
		return 1;
	}
	fill_owner(&s->owner);
	s->flags = VIGIL_SOCK_F_OWNED;
	return 1;
}

/* connect: the connecting process owns the flow (it may not be the creator). */
static __always_inline int on_connect(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct vigil_sock *s;

	if (!sk || is_self())
		return 1;
	s = bpf_sk_storage_get(&vigil_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		vigil_count(VIGIL_CNT_NET_STORAGE_FAIL);
		return 1;
	}
	if (s->flags & VIGIL_SOCK_F_SELF)
		return 1;
	fill_owner(&s->owner);
	s->flags |= VIGIL_SOCK_F_OWNED | VIGIL_SOCK_F_ACTIVE;
	s->start_ns = bpf_ktime_get_boot_ns();
	return 1;
}

SEC("cgroup/connect4")
int vigil_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx);
}

SEC("cgroup/connect6")
int vigil_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx);
}

/* ---- TCP ---------------------------------------------------------------- */

static __always_inline void sock_tuple(struct vigil_net_tuple *t, struct sock *sk)
{
	t->family = sk->__sk_common.skc_family;
	t->protocol = IPPROTO_TCP;
	t->pad = 0;
	t->lport = sk->__sk_common.skc_num;
	t->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	__builtin_memset(t->laddr, 0, sizeof(t->laddr));
	__builtin_memset(t->raddr, 0, sizeof(t->raddr));
	if (t->family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		__u32 l = sk->__sk_common.skc_rcv_saddr, r = sk->__sk_common.skc_daddr;

		__builtin_memcpy(t->laddr, &l, 4);
		__builtin_memcpy(t->raddr, &r, 4);
	}
}

static __always_inline void tcp_counters(struct vigil_net_counters *c, struct sock *sk, __u32 sock_flags,
					 __u32 retransmits)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	__builtin_memset(c, 0, sizeof(*c));
	if (!tp)
		return;
	c->bytes_sent = tp->bytes_sent;
	c->bytes_received = tp->bytes_received;
	/* The peer's FIN takes one sequence number, which the kernel counts
	 * as a received byte. */
	if ((sock_flags & VIGIL_SOCK_F_FIN_IN) && c->bytes_received > 0)
		c->bytes_received--;
	c->packets_sent = tp->segs_out;
	c->packets_received = tp->segs_in;
	c->retransmits = retransmits;
	c->srtt_us = tp->srtt_us >> 3;
}

/* What every flow record takes from the socket's storage. */
static __always_inline void from_storage(struct vigil_net_event *ev, const struct vigil_sock *s, __u32 type)
{
	ev->type = type;
	ev->owner = s->owner;
	ev->start_ns = s->start_ns;
	ev->flags = s->flags;
}

static __always_inline void send_flow(struct sock *sk, struct vigil_sock *s, __u32 type, __u32 oldstate,
				      __u32 newstate, __s32 error)
{
	struct vigil_net_event ev = {};

	ev.type = type;
	if (s)
		from_storage(&ev, s, type);
	ev.error = error;
	ev.oldstate = oldstate;
	ev.newstate = newstate;
	if (!s || !(s->flags & VIGIL_SOCK_F_OWNED))
		vigil_count(VIGIL_CNT_NET_NO_OWNER);
	sock_tuple(&ev.tuple, sk);
	if ((type == VIGIL_NET_CLOSE || type == VIGIL_NET_CONNECT_FAIL) && s && ev.tuple.lport == 0 && s->tuple.lport)
		ev.tuple = s->tuple; /* unhashed already: the tuple it had */
	ev.cookie = bpf_get_socket_cookie(sk);
	if (type == VIGIL_NET_CLOSE)
		tcp_counters(&ev.counters, sk, ev.flags, s ? s->retransmits : 0);
	if (!vigil_rate_allows(&vigil_net_rate, ev.owner.cgroup_id, net_rate_cost_ns, net_rate_burst_ns, VIGIL_EV_NET,
			       VIGIL_CNT_RB_FULL_NET))
		return;
	vigil_fill_header(&ev.hdr, VIGIL_EV_NET, VIGIL_NET_VERSION, sizeof(ev));
	vigil_submit(&ev, sizeof(ev), VIGIL_EV_NET);
}

/*
 * inet_sock_set_state fires on every TCP state change, in process context
 * (connect, close) or softirq (handshake, FIN, RST). tp_btf gives the
 * struct sock, which is what the socket storage is keyed by.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(vigil_tcp_state, struct sock *sk, int oldstate, int newstate)
{
	struct vigil_sock *s;
	__u64 now;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* A flow being established on a socket the agent never saw created
	 * (a listener older than the agent) gets storage now, without an
	 * owner, so its close still knows its tuple, side and start. */
	s = bpf_sk_storage_get(&vigil_socks, sk, 0,
			       newstate == TCP_ESTABLISHED ? BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (s && (s->flags & VIGIL_SOCK_F_SELF))
		return 0;
	now = bpf_ktime_get_boot_ns();

	if (newstate == TCP_CLOSE_WAIT || newstate == TCP_CLOSING || newstate == TCP_TIME_WAIT ||
	    (oldstate == TCP_FIN_WAIT2 && newstate == TCP_CLOSE)) {
		/* FIN_WAIT2 -> CLOSE is the socket handing over to time-wait
		 * after the peer's FIN. */
		if (s)
			s->flags |= VIGIL_SOCK_F_FIN_IN;
	}
	if (newstate == TCP_SYN_SENT) {
		if (s && !(s->flags & VIGIL_SOCK_F_ACTIVE)) {
			s->flags |= VIGIL_SOCK_F_ACTIVE;
			s->start_ns = now;
		}
		return 0;
	}
	if (newstate == TCP_ESTABLISHED && (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)) {
		__u32 type = oldstate == TCP_SYN_SENT ? VIGIL_NET_CONNECT : VIGIL_NET_ACCEPT;

		if (s) {
			sock_tuple(&s->tuple, sk);
			if (type == VIGIL_NET_ACCEPT) {
				/* Storage cloned from the listener: a fresh flow. */
				s->flags = (s->flags & VIGIL_SOCK_F_OWNED) | VIGIL_SOCK_F_PASSIVE;
				s->start_ns = now;
				s->retransmits = 0;
			}
			s->flags |= VIGIL_SOCK_F_REPORTED;
		}
		send_flow(sk, s, type, oldstate, newstate, 0);
		return 0;
	}
	if (newstate == TCP_CLOSE) {
		if (oldstate == TCP_SYN_SENT) {
			__s32 err = sk->sk_err;

			if (!err)
				err = sk->sk_err_soft;
			send_flow(sk, s, VIGIL_NET_CONNECT_FAIL, oldstate, newstate, err);
		} else if (oldstate != TCP_SYN_RECV && oldstate != TCP_LISTEN && oldstate != TCP_CLOSE &&
			   (!s || (s->flags & VIGIL_SOCK_F_REPORTED))) {
			send_flow(sk, s, VIGIL_NET_CLOSE, oldstate, newstate, 0);
		}
		if (s)
			s->flags &= ~VIGIL_SOCK_F_REPORTED;
	}
	return 0;
}

/* Retransmitted segments, per flow. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(vigil_tcp_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	struct vigil_sock *s = bpf_sk_storage_get(&vigil_socks, (struct sock *)sk, 0, 0);

	if (s)
		__sync_fetch_and_add(&s->retransmits, 1);
	return 0;
}

/* ---- UDP and DNS: packets --------------------------------------------------- */

struct packet {
	struct vigil_net_tuple tuple; /* local/remote from this socket's point of view */
	__u32 payload_off; /* offset of the transport payload in the skb */
	__u32 payload_len;
};

/* Parses the IP and UDP/TCP headers of skb (data starts at the IP header). */
static __always_inline int parse_packet(struct __sk_buff *skb, int egress, struct packet *p)
{
	__u16 ports[2];
	__u32 l4_off;
	__u8 proto;

	__builtin_memset(p, 0, sizeof(*p));
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) != 0)
			return -1;
		proto = ip.protocol;
		l4_off = (ip.ihl & 0xf) * 4;
		p->tuple.family = AF_INET;
		__builtin_memcpy(egress ? p->tuple.laddr : p->tuple.raddr, &ip.saddr, 4);
		__builtin_memcpy(egress ? p->tuple.raddr : p->tuple.laddr, &ip.daddr, 4);
		p->payload_len = bpf_ntohs(ip.tot_len);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) != 0)
			return -1;
		proto = ip6.nexthdr; /* extension headers are not followed */
		l4_off = sizeof(ip6);
		p->tuple.family = AF_INET6;
		__builtin_memcpy(egress ? p->tuple.laddr : p->tuple.raddr, &ip6.saddr, 16);
		__builtin_memcpy(egress ? p->tuple.raddr : p->tuple.laddr, &ip6.daddr, 16);
		p->payload_len = bpf_ntohs(ip6.payload_len) + sizeof(ip6);
	} else {
		return -1;
	}
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return -1;
	if (bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)) != 0)
		return -1;
	p->tuple.protocol = proto;
	p->tuple.lport = bpf_ntohs(egress ? ports[0] : ports[1]);
	p->tuple.rport = bpf_ntohs(egress ? ports[1] : ports[0]);
	if (proto == IPPROTO_UDP) {
		p->payload_off = l4_off + 8;
	} else {
		__u8 doff = 0;

		if (bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1) != 0)
			return -1;
		p->payload_off = l4_off + (doff >> 4) * 4;
	}
	p->payload_len = p->payload_len > p->payload_off ? p->payload_len - p->payload_off : 0;
	return 0;
}

/* A DNS message on its client socket: queries out to port 53, answers in from it. */
static __always_inline void capture_dns(struct __sk_buff *skb, struct vigil_sock *s, const struct packet *p,
					__u32 direction)
{
	struct vigil_dns_event *ev;
	__u32 len = p->payload_len;

	if (len == 0)
		return; /* a bare TCP segment */
	if (!vigil_rate_allows(&vigil_dns_rate, s->owner.cgroup_id, net_rate_cost_ns, net_rate_burst_ns, VIGIL_EV_DNS,
			       VIGIL_CNT_RB_FULL_DNS))
		return;
	ev = bpf_ringbuf_reserve(&vigil_events, sizeof(*ev), 0);
	if (!ev) {
		vigil_count(VIGIL_CNT_RB_FULL_DNS);
		return;
	}
	if (len > VIGIL_DNS_CAP)
		len = VIGIL_DNS_CAP;
	ev->owner = s->owner;
	ev->tuple = p->tuple;
	ev->cookie = bpf_get_socket_cookie(skb);
	ev->direction = direction;
	ev->wire_len = p->payload_len;
	ev->pad = 0;
	if (len == 0 || bpf_skb_load_bytes(skb, p->payload_off, ev->payload, len) != 0)
		len = 0;
	ev->len = len;
	vigil_fill_header(&ev->hdr, VIGIL_EV_DNS, VIGIL_DNS_VERSION, sizeof(*ev));
	bpf_ringbuf_submit(ev, vigil_wakeup_flags(sizeof(*ev)));
}

static __always_inline void send_udp(struct vigil_sock *s, __u64 cookie)
{
	struct vigil_net_event ev = {};

	from_storage(&ev, s, VIGIL_NET_UDP);
	ev.tuple = s->tuple;
	ev.cookie = cookie;
	ev.counters = s->udp;
	if (!vigil_rate_allows(&vigil_net_rate, ev.owner.cgroup_id, net_rate_cost_ns, net_rate_burst_ns, VIGIL_EV_NET,
			       VIGIL_CNT_RB_FULL_NET))
		return;
	vigil_fill_header(&ev.hdr, VIGIL_EV_NET, VIGIL_NET_VERSION, sizeof(ev));
	vigil_submit(&ev, sizeof(ev), VIGIL_EV_NET);
}

static __always_inline int same_peer(const struct vigil_net_tuple *a, const struct vigil_net_tuple *b)
{
	return a->rport == b->rport && a->lport == b->lport && a->family == b->family &&
	       __builtin_memcmp(a->raddr, b->raddr, 16) == 0;
}

/* Counts a UDP datagram on its socket, reporting the previous peer's flow
 * when the peer changes (an unconnected socket talking to several). */
static __always_inline void count_udp(struct __sk_buff *skb, struct vigil_sock *s, const struct packet *p,
				      int egress)
{
	__u64 now = bpf_ktime_get_boot_ns();

	if ((s->flags & VIGIL_SOCK_F_UDP_PEER) && !same_peer(&s->tuple, &p->tuple)) {
		send_udp(s, bpf_get_socket_cookie(skb));
		__builtin_memset(&s->udp, 0, sizeof(s->udp));
		s->start_ns = now;
	}
	if (!(s->flags & VIGIL_SOCK_F_UDP_PEER) || !same_peer(&s->tuple, &p->tuple)) {
		s->tuple = p->tuple;
		s->flags |= VIGIL_SOCK_F_UDP_PEER;
		/* Who spoke first with this peer sets the direction. */
		if (egress)
			s->flags &= ~VIGIL_SOCK_F_PASSIVE;
		else
			s->flags |= VIGIL_SOCK_F_PASSIVE;
		if (!s->start_ns)
			s->start_ns = now;
	}
	if (egress) {
		__sync_fetch_and_add(&s->udp.packets_sent, 1);
		__sync_fetch_and_add(&s->udp.bytes_sent, p->payload_len);
	} else {
		__sync_fetch_and_add(&s->udp.packets_received, 1);
		__sync_fetch_and_add(&s->udp.bytes_received, p->payload_len);
	}
}

static __always_inline int on_packet(struct __sk_buff *skb, int egress)
{
	struct bpf_sock *bsk = skb->sk;
	struct vigil_sock *s;
	struct packet p;

	if (!bsk)
		return 1;
	bsk = bpf_sk_fullsock(bsk);
	if (!bsk)
		return 1;
	if (bsk->protocol == IPPROTO_TCP && egress && bsk->state == TCP_SYN_SENT) {
		/* The SYN: the local port is chosen now, and a refused or
		 * timed-out connect loses it before its close is seen. */
		s = bpf_sk_storage_get(&vigil_socks, bsk, 0, 0);
		if (s && !(s->flags & VIGIL_SOCK_F_SELF) && parse_packet(skb, egress, &p) == 0)
			s->tuple = p.tuple;
		return 1;
	}
	/* TCP counters come from the socket at close; other TCP packets matter
	 * only for DNS. Returning before any lookup keeps bulk TCP traffic cheap. */
	if (bsk->protocol == IPPROTO_TCP && (!dns_enabled || bpf_ntohs(bsk->dst_port) != DNS_PORT))
		return 1;
	s = bpf_sk_storage_get(&vigil_socks, bsk, 0, 0);
	if (!s || (s->flags & VIGIL_SOCK_F_SELF) || !(s->flags & VIGIL_SOCK_F_OWNED))
		return 1;
	if (parse_packet(skb, egress, &p) != 0)
		return 1;
	if (p.tuple.protocol == IPPROTO_UDP && bsk->protocol == IPPROTO_UDP)
		count_udp(skb, s, &p, egress);
	if (dns_enabled && p.tuple.rport == DNS_PORT)
		capture_dns(skb, s, &p, egress ? VIGIL_DNS_QUERY : VIGIL_DNS_ANSWER);
	return 1;
}

/* Packets of every socket in the cgroup tree the programs are attached to
 * (the cgroup v2 root); they always let the packet pass. */
SEC("cgroup_skb/egress")
int vigil_skb_egress(struct __sk_buff *skb)
{
	return on_packet(skb, 1);
}

SEC("cgroup_skb/ingress")
int vigil_skb_ingress(struct __sk_buff *skb)
{
	return on_packet(skb, 0);
}

/* A UDP socket going away: its last flow. */
SEC("cgroup/sock_release")
int vigil_sock_release(struct bpf_sock *ctx)
{
	struct vigil_sock *s;

	if (ctx->protocol != IPPROTO_UDP)
		return 1;
	s = bpf_sk_storage_get(&vigil_socks, ctx, 0, 0);
	if (!s || (s->flags & VIGIL_SOCK_F_SELF) || !(s->flags & VIGIL_SOCK_F_UDP_PEER))
		return 1;
	if (s->udp.packets_sent || s->udp.packets_received)
		send_udp(s, bpf_get_socket_cookie(ctx));
	return 1;
}

/*
 * Interim updates: user space runs these every flow update interval. Live
 * TCP flows report their counters so far; UDP sockets report what they
 * counted since the last report, and restart.
 */
static __always_inline void iter_write(struct seq_file *seq, struct vigil_net_event *ev)
{
	vigil_fill_header(&ev->hdr, VIGIL_EV_NET, VIGIL_NET_VERSION, sizeof(*ev));
	if (bpf_seq_write(seq, ev, sizeof(*ev)) != 0)
		vigil_count(VIGIL_CNT_NET_ITER_WRITE_FAIL);
}

SEC("iter/tcp")
int vigil_tcp_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct vigil_net_event ev = {};
	struct tcp_sock *tp;
	struct vigil_sock *s;
	struct sock *sk;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* time-wait and request sockets */
	sk = (struct sock *)tp;
	s = bpf_sk_storage_get(&vigil_socks, sk, 0, 0);
	if (!s || (s->flags & VIGIL_SOCK_F_SELF) || !(s->flags & VIGIL_SOCK_F_REPORTED))
		return 0;
	from_storage(&ev, s, VIGIL_NET_UPDATE);
	ev.cookie = bpf_get_socket_cookie(sk);
	ev.newstate = sk->__sk_common.skc_state;
	ev.oldstate = ev.newstate;
	sock_tuple(&ev.tuple, sk);
	tcp_counters(&ev.counters, sk, s->flags, s->retransmits);
	iter_write(ctx->meta->seq, &ev);
	return 0;
}

SEC("iter/udp")
int vigil_udp_iter(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct vigil_net_event ev = {};
	struct vigil_sock *s;
	struct sock *sk;

	if (!udp)
		return 0;
	sk = (struct sock *)udp;
	s = bpf_sk_storage_get(&vigil_socks, sk, 0, 0);
	if (!s || (s->flags & VIGIL_SOCK_F_SELF) || !(s->flags & VIGIL_SOCK_F_UDP_PEER) ||
	    !(s->udp.packets_sent || s->udp.packets_received))
		return 0;
	from_storage(&ev, s, VIGIL_NET_UDP);
	ev.cookie = bpf_get_socket_cookie(sk);
	ev.tuple = s->tuple;
	ev.counters = s->udp;
	__builtin_memset(&s->udp, 0, sizeof(s->udp));
	s->start_ns = bpf_ktime_get_boot_ns();
	iter_write(ctx->meta->seq, &ev);
	return 0;
}
