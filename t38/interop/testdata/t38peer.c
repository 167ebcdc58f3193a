/*
 * t38peer: one T.38 fax terminal (spandsp 0.0.6) on a real UDP socket, used by
 * faxd's interoperability tests as an independent peer for our own stack.
 *
 * Debian's spandsp 0.0.6 has no UDPTL layer, so this program carries its own:
 * redundancy and parity-FEC on send, gap filling, FEC repair and duplicate
 * removal on receive.  Written for faxd from the T.38 (UDPTL, Annex C) rules;
 * the behaviour follows what asterisk and freeswitch do, the code is our own.
 *
 * Build: gcc -O2 -o t38peer t38peer.c -lspandsp -ltiff -lm
 *
 * Output: with --local PORT 0 the first stdout line is {"port":N}; the last is
 * a JSON result object.  Exit status 0 only when T.30 completed with
 * T30_ERR_OK.  Diagnostics go to stderr.
 *
 * --sim-pair runs two terminals (caller sends, answerer receives) in one
 * process on a virtual clock, seed after seed, over a seeded loss model that
 * faxd's simulation implements draw for draw: spandsp's completion rate on
 * the same loss patterns as ours, without real time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tiffio.h>
#include <spandsp.h>

#define MAX_IFP 1024        /* spandsp encodes IFPs into 1000-octet buffers */
#define MAX_DGRAM 4096      /* receive buffer; far larger than any sane T38FaxMaxDatagram */
#define TX_HIST 64          /* IFPs kept for redundancy/FEC (power of two) */
#define RX_RING 64          /* received IFPs kept for ordering and FEC repair (power of two) */
#define MAX_EC_ENTRIES 16   /* most secondaries / FEC entries we parse in one datagram */
#define TICK_US 20000       /* 20 ms, the 160-sample tick asterisk uses */
#define GAP_HOLD_US 200000  /* longest we hold later IFPs back waiting for FEC to repair a gap */

enum repeat_mode { REPEAT_SAME, REPEAT_NEW, REPEAT_ONCE };

static struct config {
    const char *send_file, *recv_file;
    int caller;
    struct sockaddr_in local, remote;
    int have_remote;
    int version;
    int ecm;
    int redundancy;
    int fec, fec_span;
    int loss_pct, rx_loss_pct;
    uint64_t seed;
    int max_datagram;
    const char *ident;
    int compressions;
    int modems;
    int timeout_s;
    int repeat;
    int rate_mgmt;
    int log;
} cfg;

static int sock = -1;

struct counters {
    long tx_ifps, tx_datagrams, tx_dropped, tx_unsent, tx_trimmed;
    long rx_datagrams, rx_dropped, rx_bad, rx_dup, rx_recovered, rx_repaired, rx_lost, rx_delivered;
};

struct tx_state {
    uint16_t seq;     /* next UDPTL sequence number */
    long total;       /* IFPs sent so far: limits redundancy/FEC wind-up */
    int len[TX_HIST];
    uint8_t buf[TX_HIST][MAX_IFP];
};

struct rx_slot {
    int valid;
    uint16_t seq;
    int len;
    uint8_t buf[MAX_IFP];
    /* parity FEC carried by the datagram whose primary is this seq */
    int fec_span, fec_entries;
    int fec_len[MAX_EC_ENTRIES];
    uint8_t fec[MAX_EC_ENTRIES][MAX_IFP];
};

struct rx_state {
    int started;
    uint16_t next;       /* next sequence number to hand to spandsp */
    uint16_t newest;     /* highest sequence number seen */
    int hold;            /* how far past a gap FEC may still repair it */
    int64_t gap_since;   /* when delivery first blocked on the current gap, 0 if none */
    struct rx_slot ring[RX_RING];
};

/* One terminal's state.  A normal run has one; --sim-pair runs two in one
   process on a virtual clock, and `cur` names the one spandsp is working for
   (every spandsp callback happens inside a call made for that terminal). */
struct side {
    t38_terminal_state_t *m_term;
    t38_core_state_t *m_core;
    t30_state_t *m_t30;
    int m_phase_e_seen;
    int m_completion_code;
    int64_t m_phase_e_at;
    struct counters m_st;
    struct tx_state m_tx;
    struct rx_state m_rx;
    uint64_t m_tx_rng, m_rx_rng;
};
static struct side sides[2], *cur = &sides[0];
#define term (cur->m_term)
#define core (cur->m_core)
#define t30 (cur->m_t30)
#define phase_e_seen (cur->m_phase_e_seen)
#define completion_code (cur->m_completion_code)
#define phase_e_at (cur->m_phase_e_at)
#define st (cur->m_st)
#define tx (cur->m_tx)
#define rx (cur->m_rx)
#define tx_rng (cur->m_tx_rng)
#define rx_rng (cur->m_rx_rng)

/* ---------------------------------------------------------------- --sim-pair

   Two terminals in one process on a virtual clock, with a loss model shared
   with faxd's simulation (t38/interop lossmodel.go): per direction a
   splitmix64 stream seeded with seed ^ (0xA0761D6478BD642F * (direction + 1)),
   one draw per datagram sent.  Random loss: lost when draw % 1000000 < ppm.
   Gilbert-Elliott: the draw first moves the state (good -> bad when
   draw % 1000000 < gb_ppm, bad -> good when < bg_ppm), then the datagram is
   lost exactly when the state is bad. */
static int sim_mode;
static int64_t sim_now; /* virtual microseconds */

struct loss_model {
    int ge;               /* 0: random, 1: Gilbert-Elliott */
    long ppm, gb_ppm, bg_ppm;
};
struct loss_state {
    uint64_t s;
    int bad;
};
static struct loss_model sim_loss;
static struct loss_state sim_ls[2];
static int64_t sim_delay_us = 20000;

static uint64_t rng_next(uint64_t *s);
static void die(const char *fmt, ...);
static int sim_lost(struct loss_state *l)
{
    long d = (long) (rng_next(&l->s) % 1000000);
    if (!sim_loss.ge)
        return d < sim_loss.ppm;
    if (!l->bad)
        l->bad = d < sim_loss.gb_ppm;
    else
        l->bad = !(d < sim_loss.bg_ppm);
    return l->bad;
}

struct flight {
    int64_t at;
    int to, len;
    uint8_t d[MAX_DGRAM];
};
static struct flight *sim_q;
static int sim_qn, sim_qcap;

static void sim_send(const uint8_t *d, int n)
{
    int from = (int) (cur - sides);
    if (sim_lost(&sim_ls[from])) {
        st.tx_dropped++;
        return;
    }
    if (sim_qn == sim_qcap) {
        sim_qcap = sim_qcap ? 2 * sim_qcap : 64;
        if ((sim_q = realloc(sim_q, sizeof(*sim_q) * sim_qcap)) == NULL)
            die("out of memory");
    }
    struct flight *f = &sim_q[sim_qn++];
    f->at = sim_now + sim_delay_us;
    f->to = 1 - from;
    f->len = n;
    memcpy(f->d, d, n);
    st.tx_datagrams++;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "t38peer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static int64_t now_us(void)
{
    if (sim_mode)
        return sim_now;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* splitmix64: a tiny deterministic generator, so --seed reproduces a loss pattern. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static int chance(uint64_t *s, int pct)
{
    return pct > 0 && (int) (rng_next(s) % 100) < pct;
}

/* ---------------------------------------------------------------- PER helpers */

/* put_len writes an ALIGNED PER length determinant for n < 16384. */
static int put_len(uint8_t *b, int n)
{
    if (n < 0x80) {
        b[0] = (uint8_t) n;
        return 1;
    }
    b[0] = (uint8_t) (0x80 | (n >> 8));
    b[1] = (uint8_t) n;
    return 2;
}

/* get_len reads a length determinant; fragmented lengths (>= 16K) never occur
   in UDPTL and are rejected. */
static int get_len(const uint8_t *b, int lim, int *p, int *n)
{
    if (*p >= lim)
        return -1;
    if ((b[*p] & 0x80) == 0) {
        *n = b[(*p)++];
        return 0;
    }
    if ((b[*p] & 0x40) != 0 || *p + 1 >= lim)
        return -1;
    *n = ((b[*p] & 0x3F) << 8) | b[*p + 1];
    *p += 2;
    return 0;
}

static int get_open(const uint8_t *b, int lim, int *p, const uint8_t **obj, int *n)
{
    if (get_len(b, lim, p, n) < 0 || *p + *n > lim)
        return -1;
    *obj = b + *p;
    *p += *n;
    return 0;
}

/* ifp_length parses one IFP just far enough to know where it ends.  A packet
   rebuilt from parity FEC is padded with zeros to the longest packet of its
   group, and spandsp rejects trailing octets, so the padding must go. */
static int ifp_length(const uint8_t *b, int len, int version)
{
    int p, i, count, half, present;

    if (len < 1)
        return -1;
    if ((b[0] & 0x40) == 0) /* indicator */
        return (b[0] & 0x20) ? 2 : 1;
    p = (b[0] & 0x20) ? 2 : 1;
    if ((b[0] & 0x80) == 0)
        return p <= len ? p : -1;
    if (get_len(b, len, &p, &count) < 0)
        return -1;
    half = 0;
    for (i = 0; i < count; i++) {
        if (p >= len)
            return -1;
        if (version == 0) {
            /* 1998 syntax: 4-bit field headers that share an octet when a field has no data */
            if (half) {
                present = b[p] & 0x08;
                p++;
                half = 0;
            } else {
                present = b[p] & 0x80;
                if (present)
                    p++;
                else
                    half = 1;
            }
        } else {
            present = b[p] & 0x80;
            p += (b[p] & 0x40) ? 2 : 1;
        }
        if (present) {
            if (p + 2 > len)
                return -1;
            p += 2 + ((b[p] << 8) | b[p + 1]) + 1;
        }
    }
    if (half)
        p++;
    return p <= len ? p : -1;
}

/* ---------------------------------------------------------------- UDPTL transmit */


static int tx_ec_fec(uint8_t *d, int n, uint16_t seq)
{
    int span = cfg.fec_span, entries = cfg.redundancy, m, k, j, e, lim_before;
    uint8_t par[MAX_IFP];

    /* Wind up while there is not yet enough history for full groups. */
    if (tx.total < (long) span * entries) {
        entries = (int) (tx.total / span);
        if (tx.total < span)
            span = 0;
    }
    if (span == 0)
        entries = 0;
    d[n++] = 0x80;               /* CHOICE fec-info */
    d[n++] = 1;                  /* fec-npackets: unconstrained INTEGER, 1 octet */
    d[n++] = (uint8_t) span;
    lim_before = n;
    d[n++] = (uint8_t) entries;  /* SEQUENCE OF count, always < 128 */
    for (m = 0; m < entries; m++) {
        int hi = 0, before = n;
        /* Entry m covers seq+m-span*entries, then every entries-th packet, span packets in all. */
        for (k = 0; k < span; k++) {
            int s = (uint16_t) (seq + m - span * entries + k * entries) & (TX_HIST - 1);
            for (j = 0; j < tx.len[s]; j++)
                par[j] = (j < hi ? par[j] : 0) ^ tx.buf[s][j];
            if (tx.len[s] > hi)
                hi = tx.len[s];
        }
        e = put_len(d + n, hi);
        memcpy(d + n + e, par, hi);
        n += e + hi;
        if (n > cfg.max_datagram) {
            n = before;
            d[lim_before] = (uint8_t) m;
            st.tx_trimmed++;
            break;
        }
    }
    return n;
}

/* udptl_build wraps one IFP into a UDPTL datagram with a new sequence number. */
static int udptl_build(uint8_t *d, const uint8_t *ifp, int len)
{
    uint16_t seq = tx.seq++;
    int slot = seq & (TX_HIST - 1), n = 0, m, entries, cnt_at;

    tx.len[slot] = len;
    memcpy(tx.buf[slot], ifp, len);
    d[n++] = (uint8_t) (seq >> 8);
    d[n++] = (uint8_t) seq;
    n += put_len(d + n, len);
    memcpy(d + n, ifp, len);
    n += len;
    if (cfg.fec) {
        n = tx_ec_fec(d, n, seq);
    } else {
        d[n++] = 0x00; /* CHOICE secondary-ifp-packets */
        entries = cfg.redundancy;
        if (tx.total < entries)
            entries = (int) tx.total;
        cnt_at = n;
        d[n++] = (uint8_t) entries;
        /* Newest first: seq-1, seq-2, ... */
        for (m = 0; m < entries; m++) {
            int s = (uint16_t) (seq - 1 - m) & (TX_HIST - 1), before = n;
            n += put_len(d + n, tx.len[s]);
            memcpy(d + n, tx.buf[s], tx.len[s]);
            n += tx.len[s];
            if (n > cfg.max_datagram) {
                /* Never exceed the far end's T38FaxMaxDatagram: drop the oldest entries. */
                n = before;
                d[cnt_at] = (uint8_t) m;
                st.tx_trimmed++;
                break;
            }
        }
    }
    tx.total++;
    return n;
}

static void send_datagram(const uint8_t *d, int n)
{
    if (sim_mode) {
        sim_send(d, n);
        return;
    }
    if (!cfg.have_remote) {
        st.tx_unsent++;
        return;
    }
    if (chance(&tx_rng, cfg.loss_pct)) {
        st.tx_dropped++;
        return;
    }
    if (sendto(sock, d, n, 0, (struct sockaddr *) &cfg.remote, sizeof(cfg.remote)) < 0)
        fprintf(stderr, "t38peer: sendto: %s\n", strerror(errno));
    else
        st.tx_datagrams++;
}

/* tx_packet is spandsp's transmit hook.  count > 1 asks for repeats (3 for
   indicators and sig-ends).  The default, REPEAT_SAME, sends the identical
   datagram count times: a copy that survives loss fills the gap, and a copy
   that arrives after the original is a duplicate every UDPTL receiver drops,
   so repeats never show up as new IFPs. */
static int tx_packet(t38_core_state_t *s, void *user, const uint8_t *buf, int len, int count)
{
    uint8_t d[MAX_DGRAM + MAX_IFP * 2];
    int n, i;

    (void) s;
    (void) user;
    if (len < 1 || len > MAX_IFP)
        return -1;
    if (count < 1)
        count = 1;
    st.tx_ifps++;
    switch (cfg.repeat) {
    case REPEAT_ONCE:
        n = udptl_build(d, buf, len);
        send_datagram(d, n);
        break;
    case REPEAT_NEW:
        for (i = 0; i < count; i++) {
            n = udptl_build(d, buf, len);
            send_datagram(d, n);
        }
        break;
    default:
        n = udptl_build(d, buf, len);
        for (i = 0; i < count; i++)
            send_datagram(d, n);
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- UDPTL receive */


static int16_t seqdiff(uint16_t a, uint16_t b)
{
    return (int16_t) (uint16_t) (a - b);
}

static struct rx_slot *rx_get(uint16_t seq)
{
    struct rx_slot *r = &rx.ring[seq & (RX_RING - 1)];
    return (r->valid && r->seq == seq) ? r : NULL;
}

static struct rx_slot *rx_put(uint16_t seq, const uint8_t *b, int len)
{
    struct rx_slot *r = &rx.ring[seq & (RX_RING - 1)];
    r->valid = 1;
    r->seq = seq;
    r->len = len;
    memcpy(r->buf, b, len);
    r->fec_span = r->fec_entries = 0;
    return r;
}

/* rx_repair rebuilds single missing packets from any stored parity entries. */
static void rx_repair(void)
{
    int progress = 1;

    while (progress) {
        progress = 0;
        for (int back = 0; back < RX_RING; back++) {
            uint16_t fs = (uint16_t) (rx.newest - back);
            struct rx_slot *f = rx_get(fs);
            if (f == NULL || f->fec_span == 0)
                continue;
            for (int m = 0; m < f->fec_entries; m++) {
                int missing = 0;
                uint16_t want = 0;
                for (int k = 0; k < f->fec_span; k++) {
                    uint16_t c = (uint16_t) (fs + m - f->fec_span * f->fec_entries + k * f->fec_entries);
                    if (rx_get(c) == NULL) {
                        missing++;
                        want = c;
                    }
                }
                if (missing != 1 || seqdiff(want, rx.next) < 0)
                    continue;
                uint8_t b[MAX_IFP];
                int n = f->fec_len[m];
                memcpy(b, f->fec[m], n);
                for (int k = 0; k < f->fec_span; k++) {
                    uint16_t c = (uint16_t) (fs + m - f->fec_span * f->fec_entries + k * f->fec_entries);
                    struct rx_slot *o = rx_get(c);
                    if (o == NULL)
                        continue;
                    for (int j = 0; j < o->len && j < n; j++)
                        b[j] ^= o->buf[j];
                }
                int l = ifp_length(b, n, cfg.version);
                if (l < 1)
                    continue;
                rx_put(want, b, l);
                st.rx_repaired++;
                progress = 1;
            }
        }
    }
}

/* rx_flush hands IFPs to spandsp strictly in sequence.  A gap blocks delivery
   only while parity FEC could still repair it; with redundancy (hold 0) a gap
   the secondaries did not fill is lost at once, as in asterisk/freeswitch. */
static void rx_flush(int64_t now)
{
    if (!rx.started)
        return;
    for (;;) {
        if (seqdiff(rx.newest, rx.next) < 0)
            break;
        struct rx_slot *r = rx_get(rx.next);
        if (r != NULL) {
            t38_core_rx_ifp_packet(core, r->buf, r->len, rx.next);
            st.rx_delivered++;
            rx.next++;
            rx.gap_since = 0;
            continue;
        }
        if (rx.gap_since == 0)
            rx.gap_since = now;
        if (seqdiff(rx.newest, rx.next) > rx.hold || now - rx.gap_since >= GAP_HOLD_US) {
            st.rx_lost++;
            rx.next++;
            rx.gap_since = 0;
            continue;
        }
        break;
    }
}

static void udptl_rx(const uint8_t *d, int len, int64_t now)
{
    const uint8_t *prim, *sec[MAX_EC_ENTRIES], *fecd[MAX_EC_ENTRIES];
    int plen, slen[MAX_EC_ENTRIES], flen[MAX_EC_ENTRIES];
    int p = 0, nsec = 0, is_fec, span = 0, entries = 0, i;
    uint16_t seq;

    if (len < 3)
        goto bad;
    seq = (uint16_t) ((d[0] << 8) | d[1]);
    p = 2;
    if (get_open(d, len, &p, &prim, &plen) < 0 || plen < 1 || plen > MAX_IFP || p >= len)
        goto bad;
    is_fec = (d[p++] & 0x80) != 0;
    if (!is_fec) {
        if (get_len(d, len, &p, &nsec) < 0 || nsec > MAX_EC_ENTRIES)
            goto bad;
        for (i = 0; i < nsec; i++)
            if (get_open(d, len, &p, &sec[i], &slen[i]) < 0 || slen[i] < 1 || slen[i] > MAX_IFP)
                goto bad;
    } else {
        if (p + 3 > len || d[p] != 1)
            goto bad;
        span = d[p + 1];
        entries = d[p + 2];
        p += 3;
        if (entries > MAX_EC_ENTRIES || span * entries >= RX_RING)
            goto bad;
        for (i = 0; i < entries; i++)
            if (get_open(d, len, &p, &fecd[i], &flen[i]) < 0 || flen[i] > MAX_IFP)
                goto bad;
    }
    if (p != len) /* a datagram must parse exactly: this keeps garbage out */
        goto bad;

    if (!rx.started) {
        rx.started = 1;
        rx.next = (uint16_t) (seq - nsec);
        rx.newest = (uint16_t) (rx.next - 1);
    }
    if (seqdiff(seq, rx.next) < 0 || rx_get(seq) != NULL) {
        st.rx_dup++;
        return;
    }
    /* Secondaries oldest first; entry i (0-based) carries seq-1-i. */
    for (i = nsec - 1; i >= 0; i--) {
        uint16_t s = (uint16_t) (seq - 1 - i);
        if (seqdiff(s, rx.next) >= 0 && rx_get(s) == NULL) {
            rx_put(s, sec[i], slen[i]);
            st.rx_recovered++;
        }
    }
    struct rx_slot *r = rx_put(seq, prim, plen);
    if (seqdiff(seq, rx.newest) > 0)
        rx.newest = seq;
    if (is_fec) {
        r->fec_span = span;
        r->fec_entries = entries;
        for (i = 0; i < entries; i++) {
            r->fec_len[i] = flen[i];
            memcpy(r->fec[i], fecd[i], flen[i]);
        }
        if (span > 0 && entries > 0)
            rx.hold = span * entries;
        rx_repair();
    } else {
        rx.hold = 0;
    }
    rx_flush(now);
    return;
bad:
    st.rx_bad++;
}

/* ---------------------------------------------------------------- T.30 glue */

static void phase_e(t30_state_t *s, void *user, int code)
{
    (void) s;
    (void) user;
    if (!phase_e_seen) {
        phase_e_seen = 1;
        completion_code = code;
        phase_e_at = now_us();
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (colon == NULL || (size_t) (colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, colon - s);
    host[colon - s] = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t) port);
    if (host[0] == 0)
        strcpy(host, "127.0.0.1");
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int parse_list(const char *s, const char *const names[], const int bits[], int n)
{
    int mask = 0;
    char *dup = strdup(s), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i;
        for (i = 0; i < n; i++)
            if (strcasecmp(t, names[i]) == 0)
                break;
        if (i == n)
            die("unknown list item '%s'", t);
        mask |= bits[i];
    }
    free(dup);
    return mask;
}

/* ---------------------------------------------------------------- test documents */

#define PAGE_W 1728
#define PAGE_BYTES (PAGE_W / 8)

static uint8_t *page_bits;
static int page_rows;

static void px(int x, int y)
{
    if (x >= 0 && x < PAGE_W && y >= 0 && y < page_rows)
        page_bits[y * PAGE_BYTES + x / 8] |= (uint8_t) (0x80 >> (x & 7));
}

static void rect(int x0, int y0, int w, int h)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            px(x, y);
}

/* text draws pseudo-random 5x7 "glyphs" at 2x scale: text-like run statistics
   without needing a font. */
static void text(uint64_t *r, int x0, int y0, int x1, int lines)
{
    for (int l = 0; l < lines; l++) {
        int x = x0, y = y0 + l * 22;
        while (x < x1 - 12) {
            int word = 2 + (int) (rng_next(r) % 9);
            for (int c = 0; c < word && x < x1 - 12; c++, x += 12) {
                uint64_t g = rng_next(r);
                for (int gy = 0; gy < 7; gy++)
                    for (int gx = 0; gx < 5; gx++)
                        if ((g >> (gy * 5 + gx)) & 1)
                            rect(x + gx * 2, y + gy * 2, 2, 2);
            }
            x += 12;
        }
    }
}

static void halftone(int x0, int y0, int w, int h)
{
    static const int bayer[4][4] = {{0, 8, 2, 10}, {12, 4, 14, 6}, {3, 11, 1, 9}, {15, 7, 13, 5}};
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            if (bayer[y & 3][x & 3] < ((x - x0) * 17) / w)
                px(x, y);
}

static void draw_page(int page, int pages, uint64_t seed)
{
    uint64_t r = seed * 1000003u + (uint64_t) page;

    memset(page_bits, 0, (size_t) PAGE_BYTES * page_rows);
    /* header band: page number as a bar code, so pages can never compare equal by accident */
    for (int b = 0; b < 8; b++)
        if (((page + 1) >> b) & 1)
            rect(40 + b * 24, 10, 16, 20);
    rect(40 + 8 * 24, 10, 4 * (pages + 1), 20);
    switch (page % 3) {
    case 0: /* letter: text block, a rule, a signature box */
        text(&r, 100, 80, 1200, 8);
        text(&r, 100, 340, 800, 4);
        rect(100, page_rows - 140, PAGE_W - 200, 3);
        rect(1100, page_rows - 120, 400, 2);
        break;
    case 1: /* graphics: frame, diagonals, grid, a gradient band */
        rect(60, 60, PAGE_W - 120, 4);
        rect(60, page_rows - 64, PAGE_W - 120, 4);
        rect(60, 60, 4, page_rows - 120);
        rect(PAGE_W - 64, 60, 4, page_rows - 120);
        for (int i = 0; i < page_rows - 200; i++) {
            px(100 + i, 100 + i);
            px(101 + i, 100 + i);
            px(PAGE_W - 100 - i, 100 + i);
        }
        for (int gx = 900; gx <= 1600; gx += 70)
            rect(gx, 120, 2, 240);
        for (int gy = 120; gy <= 360; gy += 30)
            rect(900, gy, 702, 2);
        halftone(200, page_rows / 2, 384, 24);
        rect(1200, page_rows - 300, 300, 120);
        break;
    default: /* form: text, a table, solid blocks, a short gradient */
        text(&r, 80, 60, PAGE_W / 2, 5);
        for (int ty = 0; ty < 6; ty++)
            for (int tc = 0; tc < 5; tc++) {
                rect(80 + tc * 300, 400 + ty * 50, 300, 2);
                rect(80 + tc * 300, 400 + ty * 50, 2, 50);
            }
        rect(1580, 400, 2, 300);
        rect(80, 700, 1502, 2);
        rect(1300, 80, 300, 200);
        halftone(80, page_rows - 140, 256, 24);
        text(&r, 80, 620, 1000, 3);
        break;
    }
}

static int make_test_tiff(const char *path, int pages, uint64_t seed, const char *comp, int rows, int fine)
{
    TIFF *t = TIFFOpen(path, "w");
    int compression = COMPRESSION_CCITTFAX4;

    if (t == NULL)
        return -1;
    if (strcmp(comp, "mh") == 0)
        compression = COMPRESSION_CCITTFAX3;
    else if (strcmp(comp, "mr") == 0)
        compression = COMPRESSION_CCITTFAX3;
    else if (strcmp(comp, "none") == 0)
        compression = COMPRESSION_NONE;
    else if (strcmp(comp, "mmr") != 0)
        die("--tiff-compression must be mh, mr, mmr or none");
    page_rows = rows;
    page_bits = calloc((size_t) rows, PAGE_BYTES);
    for (int p = 0; p < pages; p++) {
        draw_page(p, pages, seed);
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, PAGE_W);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, rows);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
        if (strcmp(comp, "mr") == 0)
            TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, GROUP3OPT_2DENCODING | GROUP3OPT_FILLBITS);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rows);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, fine ? 196.0 : 98.0);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
        for (int y = 0; y < rows; y++)
            if (TIFFWriteScanline(t, page_bits + (size_t) y * PAGE_BYTES, y, 0) < 0)
                return -1;
        if (!TIFFWriteDirectory(t))
            return -1;
    }
    TIFFClose(t);
    free(page_bits);
    return 0;
}

/* ---------------------------------------------------------------- PBM bridge */

/* The tests move pages between libtiff and Go as binary PBM (P4): 1 = black,
   MSB first, rows padded to whole octets, which is exactly a bilevel.Image.
   A "# dpi X Y" comment carries the resolution. */

static int tiff_to_pbm(const char *in, const char *prefix)
{
    TIFF *t = TIFFOpen(in, "r");
    int page = 0;

    if (t == NULL)
        return -1;
    do {
        uint32_t w = 0, h = 0;
        uint16_t bps = 1, spp = 1, photo = PHOTOMETRIC_MINISWHITE, unit = RESUNIT_INCH;
        float xr = 204, yr = 196;
        char name[4096];
        FILE *f;
        tsize_t sl;
        uint8_t *row;

        TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
        TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
        TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
        TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
        TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
        TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
        TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
        TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
        if (unit == RESUNIT_CENTIMETER) {
            xr *= 2.54f;
            yr *= 2.54f;
        }
        if (bps != 1 || spp != 1 || w == 0 || h == 0)
            die("%s page %d is not bilevel", in, page);
        snprintf(name, sizeof(name), "%s-%03d.pbm", prefix, page);
        if ((f = fopen(name, "wb")) == NULL)
            die("cannot write %s", name);
        fprintf(f, "P4\n# dpi %d %d\n%u %u\n", (int) (xr + 0.5f), (int) (yr + 0.5f), w, h);
        sl = TIFFScanlineSize(t);
        row = malloc(sl);
        for (uint32_t y = 0; y < h; y++) {
            if (TIFFReadScanline(t, row, y, 0) < 0)
                die("%s page %d row %u unreadable", in, page, y);
            if (photo == PHOTOMETRIC_MINISBLACK)
                for (tsize_t i = 0; i < sl; i++)
                    row[i] = (uint8_t) ~row[i];
            if (w % 8)
                row[(w - 1) / 8] &= (uint8_t) (0xFF00 >> (w % 8));
            fwrite(row, 1, (w + 7) / 8, f);
        }
        free(row);
        if (fclose(f) != 0)
            die("cannot write %s", name);
        page++;
    } while (TIFFReadDirectory(t));
    TIFFClose(t);
    printf("{\"pages\":%d}\n", page);
    return 0;
}

static int pbm_to_tiff(const char *out, char **in, int n)
{
    TIFF *t = TIFFOpen(out, "w");

    if (t == NULL)
        return -1;
    for (int p = 0; p < n; p++) {
        FILE *f = fopen(in[p], "rb");
        char line[256];
        int xr = 204, yr = 196, w = 0, h = 0, got = 0;

        if (f == NULL || fgets(line, sizeof(line), f) == NULL || strncmp(line, "P4", 2) != 0)
            die("%s is not a binary PBM", in[p]);
        while (!got && fgets(line, sizeof(line), f) != NULL) {
            if (line[0] == '#')
                sscanf(line, "# dpi %d %d", &xr, &yr);
            else if (sscanf(line, "%d %d", &w, &h) == 2)
                got = 1;
        }
        if (!got || w <= 0 || h <= 0)
            die("%s: bad PBM header", in[p]);
        int stride = (w + 7) / 8;
        uint8_t *row = malloc(stride);
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, (float) xr);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, (float) yr);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, p, n);
        for (int y = 0; y < h; y++) {
            if (fread(row, 1, stride, f) != (size_t) stride)
                die("%s: short image data", in[p]);
            if (TIFFWriteScanline(t, row, y, 0) < 0)
                return -1;
        }
        free(row);
        fclose(f);
        if (!TIFFWriteDirectory(t))
            return -1;
    }
    TIFFClose(t);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* setup_terminal makes the current side's spandsp terminal. */
static void setup_terminal(int caller, const char *send_file, const char *recv_file)
{
    if ((term = t38_terminal_init(NULL, caller, tx_packet, NULL)) == NULL)
        die("t38_terminal_init failed");
    t30 = t38_terminal_get_t30_state(term);
    core = t38_terminal_get_t38_core_state(term);
    t38_terminal_set_config(term, 0); /* paced, as on a real network */
    t38_terminal_set_tep_mode(term, 0);
    t38_set_t38_version(core, cfg.version);
    t38_set_data_rate_management_method(core, cfg.rate_mgmt);
    t38_set_sequence_number_handling(core, 1);
    {
        /* The far end's largest IFP follows from its T38FaxMaxDatagram and our error
           correction, the way asterisk sizes it. */
        int ifp = cfg.max_datagram - 5;
        if (cfg.fec)
            ifp = (cfg.max_datagram - 10) / 2;
        else if (cfg.redundancy > 0)
            ifp = (cfg.max_datagram - 8) / (cfg.redundancy + 1);
        if (ifp < 40)
            ifp = 40;
        t38_set_max_datagram_size(core, ifp);
    }
    t30_set_tx_ident(t30, cfg.ident);
    t30_set_ecm_capability(t30, cfg.ecm);
    t30_set_supported_compressions(t30, cfg.compressions);
    t30_set_supported_modems(t30, cfg.modems);
    t30_set_phase_e_handler(t30, phase_e, NULL);
    if (send_file)
        t30_set_tx_file(t30, send_file, -1, -1);
    else
        t30_set_rx_file(t30, recv_file, -1);
    if (cfg.log) {
        int level = SPAN_LOG_SHOW_SEVERITY | SPAN_LOG_SHOW_PROTOCOL | SPAN_LOG_SHOW_TAG | SPAN_LOG_FLOW;
        const char *tag = caller ? "caller" : "answerer";
        span_log_set_level(t38_terminal_get_logging_state(term), level);
        span_log_set_tag(t38_terminal_get_logging_state(term), tag);
        span_log_set_level(t30_get_logging_state(t30), level);
        span_log_set_tag(t30_get_logging_state(t30), tag);
        span_log_set_level(t38_core_get_logging_state(core), level);
        span_log_set_tag(t38_core_get_logging_state(core), tag);
    }
}

static void udptl_rx(const uint8_t *d, int len, int64_t now);
static void rx_flush(int64_t now);

/* sim_pair plays `count` calls from seed `first` on: side 0 calls and sends,
   side 1 answers and receives.  Time moves in 20 ms ticks; a datagram
   arrives sim_delay_us after it was sent, at the next tick.  One JSON line
   per call, then a summary; exit status 0. */
static int sim_pair(uint64_t first, long count, int limit_s)
{
    long ok_calls = 0;

    sim_mode = 1;
    for (long n = 0; n < count; n++) {
        uint64_t seed = first + (uint64_t) n;
        int64_t end_at = 0;
        int timed_out = 0;

        sim_now = 0;
        sim_qn = 0;
        for (int k = 0; k < 2; k++) {
            cur = &sides[k];
            memset(cur, 0, sizeof(*cur));
            completion_code = -1;
            sim_ls[k].s = seed ^ (0xA0761D6478BD642FULL * (uint64_t) (k + 1));
            sim_ls[k].bad = 0;
            setup_terminal(k == 0, k == 0 ? cfg.send_file : NULL, k == 0 ? NULL : cfg.recv_file);
        }
        for (;;) {
            sim_now += TICK_US;
            /* Arrivals first, in send order, then each terminal's 20 ms. */
            int keep = 0;
            for (int i = 0; i < sim_qn; i++) {
                if (sim_q[i].at <= sim_now) {
                    cur = &sides[sim_q[i].to];
                    st.rx_datagrams++;
                    udptl_rx(sim_q[i].d, sim_q[i].len, sim_now);
                } else {
                    if (keep != i)
                        sim_q[keep] = sim_q[i];
                    keep++;
                }
            }
            sim_qn = keep;
            for (int k = 0; k < 2; k++) {
                cur = &sides[k];
                t38_terminal_send_timeout(term, TICK_US / 125);
                rx_flush(sim_now);
            }
            if (sides[0].m_phase_e_seen && sides[1].m_phase_e_seen) {
                int64_t last = sides[0].m_phase_e_at > sides[1].m_phase_e_at ? sides[0].m_phase_e_at : sides[1].m_phase_e_at;
                if (end_at == 0)
                    end_at = last;
                if (sim_now - end_at > 500000)
                    break;
            }
            if (sim_now > (int64_t) limit_s * 1000000) {
                timed_out = 1;
                break;
            }
        }
        int ok = !timed_out && sides[0].m_completion_code == T30_ERR_OK && sides[1].m_completion_code == T30_ERR_OK;
        ok_calls += ok;
        printf("{\"seed\":%" PRIu64 ",\"ok\":%s,\"caller\":%d,\"answerer\":%d,\"call_ms\":%" PRId64
               ",\"lost\":[%ld,%ld],\"sent\":[%ld,%ld]}\n",
               seed, ok ? "true" : "false", sides[0].m_completion_code, sides[1].m_completion_code,
               (end_at ? end_at : sim_now) / 1000, sides[0].m_st.tx_dropped, sides[1].m_st.tx_dropped,
               sides[0].m_st.tx_datagrams + sides[0].m_st.tx_dropped, sides[1].m_st.tx_datagrams + sides[1].m_st.tx_dropped);
        for (int k = 0; k < 2; k++) {
            cur = &sides[k];
            if (timed_out)
                t30_terminate(t30);
            t38_terminal_free(term);
        }
    }
    printf("{\"calls\":%ld,\"ok\":%ld}\n", count, ok_calls);
    fflush(stdout);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: t38peer (--send F.tif | --receive F.tif) (--caller | --answerer)\n"
            "         --local HOST:PORT [--remote HOST:PORT] [--version 0..3] [--ecm 0|1]\n"
            "         [--redundancy N] [--fec] [--fec-span N] [--loss PCT] [--rx-loss PCT] [--seed N]\n"
            "         [--max-datagram N] [--ident S] [--compressions mh,mr,mmr] [--modems v27,v29,v17]\n"
            "         [--repeat same|new|once] [--rate-management 1|2] [--timeout S] [--log]\n"
            "       t38peer --sim-pair --send IN.tif --receive OUT.tif --seeds FIRST:COUNT\n"
            "         [--loss-model random:PPM|ge:GB_PPM:BG_PPM] [--delay MS] [--version N] [--ecm 0|1]\n"
            "         [--redundancy N] [--fec] [--max-datagram N] [--timeout S]   (virtual time, two terminals)\n"
            "       t38peer --make-test-tiff OUT.tif [--pages N] [--seed N] [--rows N]\n"
            "         [--tiff-compression mh|mr|mmr|none] [--standard]\n"
            "       t38peer --tiff-to-pbm IN.tif PREFIX    (writes PREFIX-000.pbm ...)\n"
            "       t38peer --pbm-to-tiff OUT.tif PAGE.pbm...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const char *const comp_names[] = {"mh", "mr", "mmr"};
    static const int comp_bits[] = {T30_SUPPORT_T4_1D_COMPRESSION, T30_SUPPORT_T4_2D_COMPRESSION, T30_SUPPORT_T6_COMPRESSION};
    static const char *const modem_names[] = {"v27", "v29", "v17"};
    static const int modem_bits[] = {T30_SUPPORT_V27TER, T30_SUPPORT_V29, T30_SUPPORT_V17};
    enum { O_SEND = 256, O_RECV, O_CALLER, O_ANSWERER, O_LOCAL, O_REMOTE, O_VERSION, O_ECM, O_RED, O_FEC, O_FECSPAN,
           O_LOSS, O_RXLOSS, O_SEED, O_MAXDG, O_IDENT, O_COMP, O_MODEMS, O_TIMEOUT, O_REPEAT, O_RATE, O_LOG,
           O_MAKE, O_PAGES, O_ROWS, O_TCOMP, O_STANDARD, O_T2P, O_P2T, O_SIMPAIR, O_SEEDS, O_LOSSMODEL, O_DELAY, O_PRINTLOSS };
    static const struct option opts[] = {
        {"send", 1, 0, O_SEND}, {"receive", 1, 0, O_RECV}, {"caller", 0, 0, O_CALLER}, {"answerer", 0, 0, O_ANSWERER},
        {"local", 1, 0, O_LOCAL}, {"remote", 1, 0, O_REMOTE}, {"version", 1, 0, O_VERSION}, {"ecm", 1, 0, O_ECM},
        {"redundancy", 1, 0, O_RED}, {"fec", 0, 0, O_FEC}, {"fec-span", 1, 0, O_FECSPAN}, {"loss", 1, 0, O_LOSS},
        {"rx-loss", 1, 0, O_RXLOSS}, {"seed", 1, 0, O_SEED}, {"max-datagram", 1, 0, O_MAXDG}, {"ident", 1, 0, O_IDENT},
        {"compressions", 1, 0, O_COMP}, {"modems", 1, 0, O_MODEMS}, {"timeout", 1, 0, O_TIMEOUT},
        {"repeat", 1, 0, O_REPEAT}, {"rate-management", 1, 0, O_RATE}, {"log", 0, 0, O_LOG},
        {"make-test-tiff", 1, 0, O_MAKE}, {"pages", 1, 0, O_PAGES}, {"rows", 1, 0, O_ROWS},
        {"tiff-compression", 1, 0, O_TCOMP}, {"standard", 0, 0, O_STANDARD}, {"tiff-to-pbm", 1, 0, O_T2P},
        {"pbm-to-tiff", 1, 0, O_P2T}, {"sim-pair", 0, 0, O_SIMPAIR}, {"seeds", 1, 0, O_SEEDS},
        {"loss-model", 1, 0, O_LOSSMODEL}, {"delay", 1, 0, O_DELAY}, {"print-loss", 1, 0, O_PRINTLOSS},
        {0, 0, 0, 0}};
    const char *make = NULL, *tcomp = "mmr", *local = NULL, *t2p = NULL, *p2t = NULL;
    int pages = 3, rows = 800, fine = 1, role_set = 0, c, sim = 0, print_loss = 0;
    const char *seeds = NULL;

    cfg.ecm = 1;
    cfg.fec_span = 3;
    cfg.max_datagram = 400;
    cfg.ident = "T38PEER";
    cfg.compressions = T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION;
    cfg.modems = T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17;
    cfg.timeout_s = 180;
    cfg.rate_mgmt = 1;
    cfg.seed = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_SEND: cfg.send_file = optarg; break;
        case O_RECV: cfg.recv_file = optarg; break;
        case O_CALLER: cfg.caller = 1; role_set = 1; break;
        case O_ANSWERER: cfg.caller = 0; role_set = 1; break;
        case O_LOCAL: local = optarg; break;
        case O_REMOTE:
            if (parse_addr(optarg, &cfg.remote) < 0)
                die("bad --remote %s", optarg);
            cfg.have_remote = 1;
            break;
        case O_VERSION: cfg.version = atoi(optarg); break;
        case O_ECM: cfg.ecm = atoi(optarg) != 0; break;
        case O_RED: cfg.redundancy = atoi(optarg); break;
        case O_FEC: cfg.fec = 1; break;
        case O_FECSPAN: cfg.fec_span = atoi(optarg); break;
        case O_LOSS: cfg.loss_pct = atoi(optarg); break;
        case O_RXLOSS: cfg.rx_loss_pct = atoi(optarg); break;
        case O_SEED: cfg.seed = strtoull(optarg, NULL, 10); break;
        case O_MAXDG: cfg.max_datagram = atoi(optarg); break;
        case O_IDENT: cfg.ident = optarg; break;
        case O_COMP: cfg.compressions = parse_list(optarg, comp_names, comp_bits, 3); break;
        case O_MODEMS: cfg.modems = parse_list(optarg, modem_names, modem_bits, 3); break;
        case O_TIMEOUT: cfg.timeout_s = atoi(optarg); break;
        case O_REPEAT:
            if (strcmp(optarg, "same") == 0)
                cfg.repeat = REPEAT_SAME;
            else if (strcmp(optarg, "new") == 0)
                cfg.repeat = REPEAT_NEW;
            else if (strcmp(optarg, "once") == 0)
                cfg.repeat = REPEAT_ONCE;
            else
                die("--repeat must be same, new or once");
            break;
        case O_RATE: cfg.rate_mgmt = atoi(optarg); break;
        case O_LOG: cfg.log = 1; break;
        case O_MAKE: make = optarg; break;
        case O_PAGES: pages = atoi(optarg); break;
        case O_ROWS: rows = atoi(optarg); break;
        case O_TCOMP: tcomp = optarg; break;
        case O_STANDARD: fine = 0; break;
        case O_T2P: t2p = optarg; break;
        case O_P2T: p2t = optarg; break;
        case O_SIMPAIR: sim = 1; break;
        case O_PRINTLOSS: print_loss = atoi(optarg); break;
        case O_SEEDS: seeds = optarg; break;
        case O_LOSSMODEL:
            if (sscanf(optarg, "random:%ld", &sim_loss.ppm) == 1 && sim_loss.ppm >= 0 && sim_loss.ppm <= 1000000)
                sim_loss.ge = 0;
            else if (sscanf(optarg, "ge:%ld:%ld", &sim_loss.gb_ppm, &sim_loss.bg_ppm) == 2 && sim_loss.gb_ppm >= 0 &&
                     sim_loss.gb_ppm <= 1000000 && sim_loss.bg_ppm >= 0 && sim_loss.bg_ppm <= 1000000)
                sim_loss.ge = 1;
            else
                die("--loss-model must be random:PPM or ge:GB_PPM:BG_PPM (0..1000000)");
            break;
        case O_DELAY: sim_delay_us = (int64_t) atoi(optarg) * 1000; break;
        default: usage();
        }
    }
    if (t2p != NULL) {
        if (optind != argc - 1)
            usage();
        return tiff_to_pbm(t2p, argv[optind]) < 0 ? 1 : 0;
    }
    if (p2t != NULL) {
        if (optind >= argc)
            usage();
        if (pbm_to_tiff(p2t, argv + optind, argc - optind) < 0)
            die("cannot write %s", p2t);
        return 0;
    }
    if (optind != argc)
        usage();
    if (make != NULL) {
        if (pages < 1 || pages > 255 || rows < 200 || rows > 10000)
            die("--pages must be 1..255 and --rows 200..10000");
        if (make_test_tiff(make, pages, cfg.seed, tcomp, rows, fine) < 0)
            die("cannot write %s", make);
        return 0;
    }
    if (print_loss > 0) {
        /* The loss model's decisions for seed FIRST, one line per direction
           ('1' lost): faxd's tests compare them with its own. */
        unsigned long long first;
        long count;
        if (seeds == NULL || sscanf(seeds, "%llu:%ld", &first, &count) != 2)
            usage();
        for (int k = 0; k < 2; k++) {
            sim_ls[k].s = (uint64_t) first ^ (0xA0761D6478BD642FULL * (uint64_t) (k + 1));
            sim_ls[k].bad = 0;
            for (int i = 0; i < print_loss; i++)
                putchar(sim_lost(&sim_ls[k]) ? '1' : '0');
            putchar('\n');
        }
        return 0;
    }
    if (sim) {
        unsigned long long first;
        long count;
        if (cfg.send_file == NULL || cfg.recv_file == NULL || seeds == NULL ||
            sscanf(seeds, "%llu:%ld", &first, &count) != 2 || count < 1)
            usage();
        if (cfg.version < 0 || cfg.version > 3 || cfg.redundancy < 0 || cfg.redundancy > 7 ||
            cfg.max_datagram < 32 || cfg.max_datagram > MAX_DGRAM || sim_delay_us < 0)
            die("bad --version, --redundancy (0..7), --max-datagram or --delay");
        if (cfg.fec && cfg.redundancy == 0)
            cfg.redundancy = 3;
        return sim_pair(first, count, cfg.timeout_s > 0 ? cfg.timeout_s : 1200);
    }
    if ((cfg.send_file == NULL) == (cfg.recv_file == NULL) || !role_set || local == NULL)
        usage();
    if (cfg.version < 0 || cfg.version > 3)
        die("--version must be 0..3");
    if (cfg.redundancy < 0 || cfg.redundancy > 4)
        die("--redundancy must be 0..4");
    sides[0].m_completion_code = -1;
    if (cfg.fec && cfg.redundancy == 0)
        cfg.redundancy = 3; /* FEC entries; 3 is what asterisk and freeswitch default to */
    if (cfg.caller && !cfg.have_remote)
        die("--caller needs --remote");
    if (cfg.fec_span < 1 || cfg.fec_span * cfg.redundancy >= TX_HIST)
        die("bad --fec-span");
    if (cfg.max_datagram < 32 || cfg.max_datagram > MAX_DGRAM)
        die("--max-datagram must be 32..%d", MAX_DGRAM);
    if (cfg.loss_pct < 0 || cfg.loss_pct > 100 || cfg.rx_loss_pct < 0 || cfg.rx_loss_pct > 100)
        die("loss must be a percentage");
    tx_rng = cfg.seed;
    rx_rng = cfg.seed ^ 0x5DEECE66DULL;
    signal(SIGPIPE, SIG_IGN);

    if (parse_addr(local, &cfg.local) < 0)
        die("bad --local %s", local);
    if ((sock = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
        die("socket: %s", strerror(errno));
    if (bind(sock, (struct sockaddr *) &cfg.local, sizeof(cfg.local)) < 0)
        die("bind %s: %s", local, strerror(errno));
    fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
    {
        struct sockaddr_in got;
        socklen_t gl = sizeof(got);
        getsockname(sock, (struct sockaddr *) &got, &gl);
        printf("{\"port\":%d}\n", ntohs(got.sin_port));
        fflush(stdout);
    }

    setup_terminal(cfg.caller, cfg.send_file, cfg.recv_file);

    int64_t start = now_us(), fed = start, next_tick = start + TICK_US;
    int64_t deadline = start + (int64_t) cfg.timeout_s * 1000000;
    int timed_out = 0;
    uint8_t d[MAX_DGRAM];

    for (;;) {
        int64_t now = now_us();
        if (next_tick > now) {
            struct pollfd pfd = {.fd = sock, .events = POLLIN};
            int64_t wait = next_tick - now;
            struct timespec ts = {.tv_sec = wait / 1000000, .tv_nsec = (wait % 1000000) * 1000};
            ppoll(&pfd, 1, &ts, NULL);
            now = now_us();
        }
        for (;;) {
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(sock, d, sizeof(d), 0, (struct sockaddr *) &from, &fl);
            if (n < 0)
                break;
            st.rx_datagrams++;
            if (!cfg.have_remote) {
                /* Answering without SDP: the first datagram names the far end. */
                cfg.remote = from;
                cfg.have_remote = 1;
            }
            if (chance(&rx_rng, cfg.rx_loss_pct)) {
                st.rx_dropped++;
                continue;
            }
            udptl_rx(d, (int) n, now);
        }
        if (now >= next_tick) {
            /* spandsp's clock is a count of 8 kHz samples: 125 us each. */
            int samples = (int) ((now - fed) / 125);
            fed += (int64_t) samples * 125;
            while (samples > 0) {
                int chunk = samples > 160 ? 160 : samples;
                t38_terminal_send_timeout(term, chunk);
                samples -= chunk;
            }
            rx_flush(now);
            next_tick += TICK_US;
            if (next_tick < now)
                next_tick = now + TICK_US;
        }
        /* After phase E linger briefly, so the last frames (DCN) and their repeats leave. */
        if (phase_e_seen && now - phase_e_at > 500000)
            break;
        if (now >= deadline) {
            timed_out = 1;
            t30_terminate(t30);
            break;
        }
    }

    t30_stats_t stats;
    struct rusage ru;
    memset(&stats, 0, sizeof(stats));
    t30_get_transfer_statistics(t30, &stats);
    getrusage(RUSAGE_SELF, &ru);
    int ok = !timed_out && completion_code == T30_ERR_OK;
    printf("{\"result\":\"%s\",\"code\":%d,\"text\":", ok ? "OK" : (timed_out ? "TIMEOUT" : "FAILED"), completion_code);
    json_str(stdout, completion_code >= 0 ? t30_completion_code_to_str(completion_code) : "no phase E");
    printf(",\"pages\":%d,\"bit_rate\":%d,\"ecm\":%s,\"encoding\":%d,\"remote_ident\":",
           cfg.send_file ? stats.pages_tx : stats.pages_rx, stats.bit_rate, stats.error_correcting_mode ? "true" : "false",
           stats.encoding);
    json_str(stdout, t30_get_rx_ident(t30));
    printf(",\"call_ms\":%" PRId64, phase_e_seen ? (phase_e_at - start) / 1000 : -1);
    printf(",\"cpu_user_ms\":%ld,\"cpu_sys_ms\":%ld,\"wall_ms\":%" PRId64,
           ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000, ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000,
           (now_us() - start) / 1000);
    printf(",\"udptl\":{\"tx_ifps\":%ld,\"tx_datagrams\":%ld,\"tx_dropped\":%ld,\"tx_unsent\":%ld,\"tx_trimmed\":%ld,"
           "\"rx_datagrams\":%ld,\"rx_dropped\":%ld,\"rx_bad\":%ld,\"rx_dup\":%ld,\"rx_recovered\":%ld,"
           "\"rx_repaired\":%ld,\"rx_lost\":%ld,\"rx_delivered\":%ld}}\n",
           st.tx_ifps, st.tx_datagrams, st.tx_dropped, st.tx_unsent, st.tx_trimmed, st.rx_datagrams, st.rx_dropped,
           st.rx_bad, st.rx_dup, st.rx_recovered, st.rx_repaired, st.rx_lost, st.rx_delivered);
    fflush(stdout);
    t38_terminal_free(term);
    close(sock);
    return ok ? 0 : 1;
}
