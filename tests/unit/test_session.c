/*
** tests/unit/test_session.c: the session state machine (src/session) alone,
** two of them wired by hand — sequencing, acknowledgements, duplicates and
** gaps, resuming on a new connection, the ends of a session with their
** unacknowledged frames, the failure detector and the quarantine.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "session/session.h"
#include "stage/errors.h"
#include "wire/frame.h"

#define KIND 17

/* What an end hook saw. */
typedef struct ended {
    int n;
    uint32_t inc;
    int reason;
    char why[STAGE__SESSION_WHY_MAX];
    uint64_t count;
    uint64_t lost[64]; /* the numbers in the lost frames' bodies */
    int nlost;
    bool append_in_hook; /* append frame 999 from the hook */
} ended_t;

static void on_end(void *ud, stage__session_t *s, uint32_t inc, int reason,
                   const char *why, uint64_t count,
                   stage__session_iter_t *lost) {
    ended_t *e = ud;
    int kind;
    const char *body;
    size_t len;
    e->n++;
    e->inc = inc;
    e->reason = reason;
    e->count = count;
    snprintf(e->why, sizeof e->why, "%s", why);
    e->nlost = 0;
    while (stage__session_iter_next(lost, &kind, &body, &len)) {
        stage_unpack_t u;
        int64_t v;
        assert_int_equal(kind, KIND);
        stage_unpack_init(&u, body, len);
        assert_int_equal(stage_unpack_int(&u, &v), 0);
        if (e->nlost < 64) e->lost[e->nlost++] = (uint64_t)v;
    }
    assert_int_equal((uint64_t)e->nlost, count);
    if (e->append_in_hook) {
        char b[16];
        stage_pack_t p = {b, 0, sizeof b, 0};
        stage_pack_int(&p, 999);
        assert_int_equal(stage__session_append(s, KIND, p.data, p.len), 0);
    }
}

static stage__session_t a, b;
static ended_t ea, eb;
static stage__session_config_t cfg;

#define A_INC 0xa1u
#define B_INC 0xb1u

static int setup(void **state) {
    (void)state;
    stage__session_config_init(&cfg);
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    stage__session_hooks_t ha = {&ea, on_end}, hb = {&eb, on_end};
    stage__session_init(&a, &cfg, &ha, A_INC);
    stage__session_init(&b, &cfg, &hb, B_INC);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    stage__session_close(&a);
    stage__session_close(&b);
    return 0;
}

/* Append frame number v (a msgpack int body, plus pad bytes of bin). */
static int put(stage__session_t *s, uint64_t v, size_t pad) {
    static char zeros[200000];
    stage_pack_t p = STAGE_PACK_INIT;
    if (pad) stage_pack_array(&p, 2);
    stage_pack_int(&p, (int64_t)v);
    if (pad) stage_pack_bin(&p, zeros, pad);
    int rc = stage__session_append(s, KIND, p.data, p.len);
    stage_pack_free(&p);
    return rc;
}

/* A connection from `from` to `to`: bytes taken from `from` are decoded
** and given to `to` with the sequence numbers the connection implies. */
typedef struct link {
    stage__session_t *from, *to;
    uint64_t rseq; /* the next frame's number on this connection */
    uint64_t got[4096];
    int ngot;
} link_t;

/* The first number in a frame body (a bare int, or the first of an
** array). */
static uint64_t body_number(const char *body, size_t len) {
    stage_unpack_t u;
    uint32_t n;
    int64_t v;
    stage_unpack_init(&u, body, len);
    if (stage_unpack_peek(&u) == STAGE_T_ARRAY) stage_unpack_array(&u, &n);
    assert_int_equal(stage_unpack_int(&u, &v), 0);
    return (uint64_t)v;
}

/* Take what `from` has to write and deliver all of it (deliver true) or
** none (false: it is lost with the connection). Returns the frames. */
static uint64_t flow(link_t *l, bool deliver) {
    stage__session_span_t spans[16];
    uint64_t frames;
    size_t n = stage__session_take(l->from, spans, 16, &frames);
    stage__fdec_t d;
    stage__fdec_init(&d, 0);
    for (size_t i = 0; i < n; i++)
        if (deliver)
            assert_int_equal(stage__fdec_feed(&d, spans[i].data, spans[i].len),
                             0);
    stage__frame_t f;
    int rc;
    while (deliver && (rc = stage__fdec_next(&d, &f)) == 1) {
        int took = stage__session_received(l->to, l->rseq++, f.len, 0);
        assert_true(took >= 0);
        if (took) l->got[l->ngot++] = body_number(f.body, f.len);
    }
    stage__fdec_close(&d);
    for (size_t i = 0; i < n; i++)
        stage__session_release(l->from, spans[i].chunk);
    return frames;
}

/* Both sides greet each other (x dials y) and start links both ways. */
static uint64_t hellos; /* handshakes numbered as a node numbers its own */

static void connect_pair(stage__session_t *x, uint32_t xinc,
                         stage__session_t *y, uint32_t yinc, link_t *xy,
                         link_t *yx, uint64_t now) {
    uint32_t known;
    uint64_t received;
    char why[STAGE__SESSION_WHY_MAX];
    stage__session_hello(x, &known, &received);
    int ry = stage__session_greeted(y, xinc, known, received, ++hellos, now,
                                    why, sizeof why);
    assert_int_not_equal(ry, STAGE__SESSION_DEAD);
    stage__session_hello(y, &known, &received);
    int rx = stage__session_greeted(x, yinc, known, received, ++hellos, now,
                                    why, sizeof why);
    assert_int_not_equal(rx, STAGE__SESSION_DEAD);
    memset(xy, 0, sizeof *xy);
    memset(yx, 0, sizeof *yx);
    *xy = (link_t){.from = x, .to = y, .rseq = y->received};
    *yx = (link_t){.from = y, .to = x, .rseq = x->received};
}

static link_t ab, ba;

static void frames_flow_in_order_and_acks_trim_the_store(void **state) {
    (void)state;
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(put(&a, i, 0), 0);
    assert_int_equal(stage__session_unacked(&a), 5);
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    assert_int_equal(stage__session_peer(&a), B_INC);
    assert_int_equal(stage__session_peer(&b), A_INC);
    assert_true(stage__session_unsent(&a));
    assert_int_equal(flow(&ab, true), 5);
    assert_false(stage__session_unsent(&a));
    assert_int_equal(ab.ngot, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ab.got[i], (uint64_t)i);
    /* b owes an ack; it goes when due */
    uint64_t n;
    assert_true(stage__session_ack_owed(&b));
    assert_int_equal(stage__session_ack(&b, cfg.ack_ms, false, &n), 1);
    assert_int_equal(n, 5);
    assert_false(stage__session_ack_owed(&b));
    assert_int_equal(stage__session_acked(&a, 3), 0);
    assert_int_equal(stage__session_unacked(&a), 2);
    assert_int_equal(stage__session_acked(&a, 5), 0);
    assert_int_equal(stage__session_unacked(&a), 0);
    assert_int_equal(stage__session_bytes(&a), 0);
    /* an ack for frames never sent is a protocol violation */
    assert_int_equal(stage__session_acked(&a, 6), STAGE_EPROTO);
    assert_int_equal(ea.n + eb.n, 0);
}

static void receiver_drops_duplicates_and_refuses_gaps(void **state) {
    (void)state;
    assert_int_equal(stage__session_received(&b, 0, 10, 0), 1);
    assert_int_equal(stage__session_received(&b, 1, 10, 0), 1);
    assert_int_equal(stage__session_received(&b, 0, 10, 0), 0);
    assert_int_equal(stage__session_received(&b, 1, 10, 0), 0);
    assert_int_equal(b.duplicates, 2);
    assert_int_equal(stage__session_received(&b, 3, 10, 0), STAGE_EPROTO);
    assert_int_equal(stage__session_received(&b, 2, 10, 0), 1);
    assert_int_equal(b.received, 3);
}

static void ack_goes_with_data_or_when_owed_long_or_much(void **state) {
    (void)state;
    uint64_t n = 0;
    assert_int_equal(stage__session_ack(&b, 0, false, &n), 0); /* none owed */
    assert_int_equal(stage__session_received(&b, 0, 100, 1000), 1);
    assert_int_equal(stage__session_ack(&b, 1000 + cfg.ack_ms - 1, false, &n),
                     0); /* young and small: wait */
    assert_true(stage__session_ack_owed(&b));
    assert_int_equal(stage__session_ack(&b, 1000 + cfg.ack_ms, false, &n), 1);
    assert_int_equal(n, 1);
    /* bytes: a quarter of a megabyte is owed at once */
    assert_int_equal(stage__session_received(&b, 1, cfg.ack_bytes, 2000), 1);
    assert_int_equal(stage__session_ack(&b, 2000, false, &n), 1);
    assert_int_equal(n, 2);
    /* with data going anyway: once half due */
    assert_int_equal(stage__session_received(&b, 2, 10, 3000), 1);
    assert_int_equal(stage__session_ack(&b, 3000, true, &n), 0);
    assert_int_equal(stage__session_ack(&b, 3000 + cfg.ack_ms / 2, true, &n),
                     1);
    assert_int_equal(n, 3);
}

static void full_session_refuses_with_busy_until_acked(void **state) {
    (void)state;
    stage__session_close(&a);
    stage__session_config_t small = cfg;
    small.max_bytes = 10000;
    stage__session_hooks_t ha = {&ea, on_end};
    stage__session_init(&a, &small, &ha, A_INC);
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    uint64_t i = 0;
    int rc;
    while ((rc = put(&a, i, 1000)) == 0)
        i++;
    assert_int_equal(rc, STAGE_EBUSY);
    assert_int_equal(i, 9); /* 9 frames of ~1 KiB in 10000 bytes */
    assert_int_equal(put(&a, i, 1000), STAGE_EBUSY); /* written or not */
    flow(&ab, true);
    assert_int_equal(put(&a, i, 1000), STAGE_EBUSY); /* written, not acked */
    assert_int_equal(stage__session_acked(&a, 9), 0);
    assert_int_equal(put(&a, i, 1000), 0);
    /* a body too large for a frame is another error */
    stage__session_close(&a);
    small.max_frame = 4096;
    stage__session_init(&a, &small, &ha, A_INC);
    assert_int_equal(put(&a, 0, 5000), STAGE_ETOOBIG);
    assert_int_equal(stage__session_unacked(&a), 0);
}

static void new_connection_resends_exactly_what_the_peer_lacks(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(put(&a, i, 0), 0);
    flow(&ab, true); /* 0..2 arrive; their ack is lost with the connection */
    for (uint64_t i = 3; i < 6; i++)
        assert_int_equal(put(&a, i, 0), 0);
    flow(&ab, false); /* 3..5 are written and lost */
    for (uint64_t i = 6; i < 8; i++)
        assert_int_equal(put(&a, i, 0), 0); /* 6..7 queued meanwhile */
    link_t ab2, ba2;
    connect_pair(&b, B_INC, &a, A_INC, &ba2, &ab2, 10); /* b dials this time */
    assert_int_equal(stage__session_unacked(&a), 5);    /* 0..2 dropped */
    assert_int_equal(flow(&ab2, true), 5);
    assert_int_equal(ab2.ngot, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ab2.got[i], (uint64_t)(3 + i));
    assert_int_equal(b.received, 8);
    assert_int_equal(ea.n + eb.n, 0); /* nothing ended */
}

static void resume_point_inside_a_chunk_and_across_chunks(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    /* frames of ~10 KiB: several chunks of 64 KiB */
    for (uint64_t i = 0; i < 20; i++) {
        assert_int_equal(put(&a, i, 10000), 0);
        if (i % 3 == 0) flow(&ab, i < 10); /* some writes arrive, then lost */
    }
    flow(&ab, false);
    uint64_t had = b.received;
    assert_true(had > 0 && had < 20);
    link_t ab2, ba2;
    connect_pair(&a, A_INC, &b, B_INC, &ab2, &ba2, 10);
    flow(&ab2, true);
    assert_int_equal(b.received, 20);
    assert_int_equal(ab2.got[0], had);
    for (int i = 1; i < ab2.ngot; i++)
        assert_int_equal(ab2.got[i], ab2.got[i - 1] + 1);
}

static void pinned_chunk_takes_no_more_frames(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    stage__session_span_t sp[4];
    uint64_t frames;
    assert_int_equal(put(&a, 0, 0), 0);
    assert_int_equal(stage__session_take(&a, sp, 4, &frames), 1);
    const char *data = sp[0].data;
    char copy[64];
    memcpy(copy, data, sp[0].len);
    for (uint64_t i = 1; i < 2000; i++) /* would move a growing buffer */
        assert_int_equal(put(&a, i, 0), 0);
    assert_memory_equal(sp[0].data, copy, sp[0].len); /* untouched */
    stage__session_span_t sp2[4];
    assert_int_equal(stage__session_take(&a, sp2, 4, &frames), 1);
    assert_int_equal(frames, 1999);
    assert_ptr_not_equal(sp2[0].chunk, sp[0].chunk);
    /* everything acknowledged while still pinned: kept until released */
    b.received = 2000;
    assert_int_equal(stage__session_acked(&a, 2000), 0);
    assert_true(stage__session_bytes(&a) > 0);
    stage__session_release(&a, sp[0].chunk);
    stage__session_release(&a, sp2[0].chunk);
    assert_int_equal(stage__session_bytes(&a), 0);
}

static void
new_incarnation_ends_the_session_with_its_unacked_frames(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    for (uint64_t i = 0; i < 6; i++)
        assert_int_equal(put(&a, i, 0), 0);
    flow(&ab, true);
    assert_int_equal(stage__session_acked(&a, 2), 0);
    /* b restarts as B2: a fresh session that knows nothing */
    stage__session_t b2;
    ended_t e2 = {0};
    stage__session_hooks_t h2 = {&e2, on_end};
    stage__session_init(&b2, &cfg, &h2, 0xb2);
    ea.append_in_hook = true; /* the layer above sends at once */
    link_t ab2, ba2;
    connect_pair(&b2, 0xb2, &a, A_INC, &ba2, &ab2, 5);
    assert_int_equal(ea.n, 1);
    assert_int_equal(ea.inc, B_INC);
    assert_int_equal(ea.reason, STAGE_ESTOPPED);
    assert_non_null(strstr(ea.why, "restarted"));
    assert_int_equal(ea.count, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ea.lost[i], (uint64_t)(2 + i));
    /* the frame the hook sent goes to the new incarnation, first */
    assert_int_equal(stage__session_peer(&a), 0xb2);
    flow(&ab2, true);
    assert_int_equal(ab2.ngot, 1);
    assert_int_equal(ab2.got[0], 999);
    /* the old incarnation is quarantined */
    const char *why;
    assert_true(stage__session_is_dead(&a, B_INC, &why));
    char w[STAGE__SESSION_WHY_MAX];
    assert_int_equal(
        stage__session_greeted(&a, B_INC, A_INC, 0, ++hellos, 6, w, sizeof w),
        STAGE__SESSION_DEAD);
    assert_non_null(strstr(w, "restarted"));
    assert_int_equal(stage__session_peer(&a), 0xb2); /* unchanged */
    stage__session_close(&b2);
}

static void
silence_longer_than_dead_after_declares_the_peer_dead(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 1000);
    assert_int_equal(put(&a, 0, 0), 0);
    stage__session_heard(&a, 5000);
    assert_int_equal(stage__session_tick(&a, 5000 + cfg.dead_after_ms - 1), 0);
    assert_int_equal(ea.n, 0);
    assert_int_equal(stage__session_tick(&a, 5000 + cfg.dead_after_ms), 1);
    assert_int_equal(ea.n, 1);
    assert_int_equal(ea.reason, STAGE_ENODE_DOWN);
    assert_int_equal(ea.count, 1);
    assert_non_null(strstr(ea.why, "nothing heard from it for 10000 ms"));
    assert_true(stage__session_is_dead(&a, B_INC, NULL));
    /* unbound now: the detector is idle */
    assert_int_equal(stage__session_tick(&a, 1000000), 0);
    assert_int_equal(ea.n, 1);
}

static void refused_connects_declare_dead_only_with_a_session(void **state) {
    (void)state;
    assert_int_equal(put(&a, 0, 0), 0);
    for (int i = 0; i < 5; i++) /* never reached: the driver's policy */
        assert_int_equal(stage__session_refused(&a), 0);
    assert_int_equal(ea.n, 0);
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    assert_int_equal(stage__session_refused(&a), 0);
    stage__session_not_refused(&a); /* not in a row any more */
    assert_int_equal(stage__session_refused(&a), 0);
    assert_int_equal(stage__session_refused(&a), 1);
    assert_int_equal(ea.n, 1);
    assert_int_equal(ea.reason, STAGE_ENODE_DOWN);
    assert_non_null(strstr(ea.why, "refused"));
}

static void news_of_a_death_quarantines_and_ends(void **state) {
    (void)state;
    /* an incarnation never met is quarantined all the same */
    assert_int_equal(stage__session_declare_dead(&a, 0xc1, "told by x"), 0);
    assert_true(stage__session_is_dead(&a, 0xc1, NULL));
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    assert_int_equal(put(&a, 7, 0), 0);
    assert_int_equal(stage__session_declare_dead(&a, B_INC, "told by y"), 1);
    assert_int_equal(ea.reason, STAGE_ENODE_DOWN);
    assert_string_equal(ea.why, "told by y");
    assert_int_equal(ea.nlost, 1);
    assert_int_equal(ea.lost[0], 7);
}

static void quarantine_keeps_the_latest_incarnations(void **state) {
    (void)state;
    for (uint32_t i = 1; i <= STAGE__SESSION_QUARANTINE + 3; i++)
        stage__session_declare_dead(&a, i, "gone");
    assert_false(stage__session_is_dead(&a, 1, NULL));
    assert_true(
        stage__session_is_dead(&a, STAGE__SESSION_QUARANTINE + 3, NULL));
    assert_true(stage__session_is_dead(&a, 4, NULL));
}

static void contradicting_counts_end_and_refuse_the_peer(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    assert_int_equal(put(&a, 0, 0), 0);
    flow(&ab, true);
    char w[STAGE__SESSION_WHY_MAX];
    /* b claims 5 frames of a session in which a sent 1 */
    assert_int_equal(
        stage__session_greeted(&a, B_INC, A_INC, 5, ++hellos, 1, w, sizeof w),
        STAGE__SESSION_DEAD);
    assert_int_equal(ea.reason, STAGE_EPROTO);
    assert_non_null(strstr(w, "does not match"));
    assert_true(stage__session_is_dead(&a, B_INC, NULL));
}

static void peer_that_lost_our_session_ends_ours(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    assert_int_equal(put(&a, 0, 0), 0);
    assert_int_equal(put(&a, 1, 0), 0);
    flow(&ab, true);
    assert_int_equal(stage__session_acked(&a, 1), 0);
    char w[STAGE__SESSION_WHY_MAX];
    /* b (same incarnation) says it has no session with a */
    assert_int_equal(
        stage__session_greeted(&a, B_INC, 0, 0, ++hellos, 1, w, sizeof w),
        STAGE__SESSION_NEW);
    assert_int_equal(ea.n, 1);
    assert_int_equal(ea.reason, STAGE_ECANCELED);
    assert_int_equal(ea.nlost, 1);
    assert_int_equal(ea.lost[0], 1);
    assert_false(stage__session_is_dead(&a, B_INC, NULL));
}

static void unbound_frames_wait_for_the_first_incarnation(void **state) {
    (void)state;
    /* a dialled b and the connection broke before b's answer: b took
    ** nothing, and says so (known 0); a keeps and sends everything */
    assert_int_equal(put(&a, 0, 0), 0);
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    flow(&ab, false);
    char w[STAGE__SESSION_WHY_MAX];
    assert_int_equal(
        stage__session_greeted(&a, B_INC, 0, 0, ++hellos, 1, w, sizeof w),
        STAGE__SESSION_RESUMED);
    assert_int_equal(ea.n, 0);
    assert_true(stage__session_unsent(&a)); /* frame 0 goes again */
}

/* Two nodes dial each other at once and keep one connection; the
** handshake a node sent on the dial it then gave up may still arrive,
** after the handshake of the connection kept. */
static void stale_handshake_changes_nothing(void **state) {
    (void)state;
    uint32_t known;
    uint64_t received, stale_no = ++hellos;
    char w[STAGE__SESSION_WHY_MAX];
    stage__session_hello(&a, &known, &received); /* a's abandoned dial */
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    assert_int_equal(put(&a, 0, 0), 0);
    flow(&ab, true);
    assert_int_equal(b.received, 1);
    assert_true(stage__session_stale(&b, A_INC, stale_no));
    assert_int_equal(stage__session_greeted(&b, A_INC, known, received,
                                            stale_no, 1, w, sizeof w),
                     STAGE__SESSION_STALE);
    assert_int_equal(eb.n, 0); /* acting on it would have ended b's session */
    assert_int_equal(b.received, 1);
    assert_false(stage__session_stale(&b, A_INC, hellos + 1));
    assert_false(stage__session_stale(&b, 0xa2, 1)); /* another incarnation */
}

static void goodbye_gives_back_queued_frames_without_quarantine(void **state) {
    (void)state;
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    assert_int_equal(put(&a, 0, 0), 0);
    stage__session_end(&a, STAGE_ECANCELED, "it said goodbye");
    assert_int_equal(ea.reason, STAGE_ECANCELED);
    assert_int_equal(ea.count, 1);
    assert_false(stage__session_is_dead(&a, B_INC, NULL));
    assert_int_equal(stage__session_peer(&a), 0);
    assert_int_equal(stage__session_bytes(&a), 0);
}

static void goodbye_keeps_that_incarnation_from_starting_again(void **state) {
    (void)state;
    char w[STAGE__SESSION_WHY_MAX];
    connect_pair(&a, A_INC, &b, B_INC, &ab, &ba, 0);
    stage__session_goodbye(&a, "it said goodbye");
    assert_int_equal(ea.reason, STAGE_ECANCELED);
    assert_true(stage__session_has_left(&a, B_INC));
    /* the leaver, still stopping, dials again: no new session, and it is
    ** not told it is dead (it stops with its own status) */
    assert_int_equal(
        stage__session_greeted(&a, B_INC, 0, 0, ++hellos, 2, w, sizeof w),
        STAGE__SESSION_LEFT);
    assert_int_equal(stage__session_peer(&a), 0);
    assert_false(stage__session_is_dead(&a, B_INC, NULL));
    /* its next run at the same address is a new session */
    assert_int_equal(
        stage__session_greeted(&a, 0xb2, 0, 0, ++hellos, 3, w, sizeof w),
        STAGE__SESSION_NEW);
    assert_int_equal(stage__session_peer(&a), 0xb2);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(frames_flow_in_order_and_acks_trim_the_store),
        T(receiver_drops_duplicates_and_refuses_gaps),
        T(ack_goes_with_data_or_when_owed_long_or_much),
        T(full_session_refuses_with_busy_until_acked),
        T(new_connection_resends_exactly_what_the_peer_lacks),
        T(resume_point_inside_a_chunk_and_across_chunks),
        T(pinned_chunk_takes_no_more_frames),
        T(new_incarnation_ends_the_session_with_its_unacked_frames),
        T(silence_longer_than_dead_after_declares_the_peer_dead),
        T(refused_connects_declare_dead_only_with_a_session),
        T(news_of_a_death_quarantines_and_ends),
        T(quarantine_keeps_the_latest_incarnations),
        T(contradicting_counts_end_and_refuse_the_peer),
        T(peer_that_lost_our_session_ends_ours),
        T(unbound_frames_wait_for_the_first_incarnation),
        T(stale_handshake_changes_nothing),
        T(goodbye_keeps_that_incarnation_from_starting_again),
        T(goodbye_gives_back_queued_frames_without_quarantine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
