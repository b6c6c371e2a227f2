/*
** session/session.c: a session's life — the receiver's count and its
** acknowledgements, the handshake that binds, resumes or ends a session,
** the failure detector, and the quarantine of dead incarnations. The
** sender's store is store.c. States and rules: session/session.h.
**
** Why a handshake can trust the counts it compares: one connection at a
** time delivers frames for a session (the driver closes the others before
** a new one is greeted), so what a node says it has taken is exactly what
** it took, and the sender may drop those frames and resend the rest. A
** peer whose counts contradict ours (it took more than we ever sent, or
** fewer than it acknowledged) cannot be resumed without losing or doubling
** frames: its session ends (STAGE_EPROTO) and it is quarantined, so it
** learns at once that it was given up rather than carrying on silently.
** Not thread-safe: one owner (the transport's loop thread).
*/
#include <stdio.h>
#include <string.h>

#include "stage/errors.h"
#include "store.h"
#include "wire/frame.h"

void stage__session_config_init(stage__session_config_t *cfg) {
    cfg->max_frame = STAGE__FRAME_MAX_DEFAULT;
    cfg->max_bytes = 4 * STAGE__FRAME_MAX_DEFAULT;
    cfg->dead_after_ms = 10000;
    cfg->refused_limit = 2;
    cfg->ack_bytes = 64 << 10;
    cfg->ack_ms = 20;
}

void stage__session_init(stage__session_t *s,
                         const stage__session_config_t *cfg,
                         const stage__session_hooks_t *hooks, uint32_t self) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (hooks) s->hooks = *hooks;
    s->self = self;
}

void stage__session_close(stage__session_t *s) {
    stage__store_free(s);
}

/* ---- receiving -------------------------------------------------------- */

int stage__session_received(stage__session_t *s, uint64_t seq, size_t len,
                            uint64_t now) {
    if (seq < s->received) {
        s->duplicates++;
        return 0;
    }
    if (seq > s->received) return STAGE_EPROTO;
    if (s->received == s->ack_sent) s->owed_since = now;
    s->received++;
    s->owed_bytes += len;
    return 1;
}

int stage__session_ack(stage__session_t *s, uint64_t now, bool writing,
                       uint64_t *n) {
    if (s->received == s->ack_sent) return 0;
    /* a write going anyway carries it for 11 bytes once half due; alone it
    ** costs a write, so it waits until due. Either way a conversation of
    ** quick calls and replies acks once per ack_ms, not once per frame. */
    int half = writing ? 2 : 1;
    if (s->owed_bytes * half < s->cfg.ack_bytes &&
        (now - s->owed_since) * half < s->cfg.ack_ms)
        return 0;
    *n = s->ack_sent = s->received;
    s->owed_bytes = 0;
    return 1;
}

int stage__session_ack_all(stage__session_t *s, uint64_t *n) {
    if (s->received == s->ack_sent) return 0;
    *n = s->ack_sent = s->received;
    s->owed_bytes = 0;
    return 1;
}

bool stage__session_ack_owed(const stage__session_t *s) {
    return s->received != s->ack_sent;
}

/* ---- quarantine and the end of a session ------------------------------ */

bool stage__session_is_dead(const stage__session_t *s, uint32_t inc,
                            const char **why) {
    for (int i = 0; i < s->ndead; i++)
        if (s->dead[i].inc == inc) {
            if (why) *why = s->dead[i].why;
            return true;
        }
    return false;
}

/* Remember inc as dead (the oldest entry makes room). */
static void quarantine(stage__session_t *s, uint32_t inc, const char *why) {
    if (!inc || stage__session_is_dead(s, inc, NULL)) return;
    s->dead[s->dead_next].inc = inc;
    snprintf(s->dead[s->dead_next].why, sizeof s->dead[0].why, "%s", why);
    s->dead_next = (s->dead_next + 1) % STAGE__SESSION_QUARANTINE;
    if (s->ndead < STAGE__SESSION_QUARANTINE) s->ndead++;
}

/* End the session: s restarts empty and unbound, then the hook gets the
** frames that were never acknowledged. */
static void end_session(stage__session_t *s, int reason, const char *why,
                        bool dead) {
    uint32_t inc = s->peer;
    if (dead) quarantine(s, inc, why);
    stage__session_iter_t lost;
    stage__session_chunk_t *chunks = stage__store_detach(s, &lost);
    s->peer = 0;
    s->greeted = 0;
    s->received = s->ack_sent = 0;
    s->owed_bytes = 0;
    s->refused = 0;
    if (s->hooks.end)
        s->hooks.end(s->hooks.ud, s, inc, reason, why, lost.end - lost.start,
                     &lost);
    stage__store_drop(s, chunks);
}

void stage__session_end(stage__session_t *s, int reason, const char *why) {
    end_session(s, reason, why, false);
}

void stage__session_goodbye(stage__session_t *s, const char *why) {
    if (s->peer) s->left = s->peer;
    end_session(s, STAGE_ECANCELED, why, false);
}

int stage__session_declare_dead(stage__session_t *s, uint32_t inc,
                                const char *why) {
    quarantine(s, inc, why);
    if (!inc || s->peer != inc) return 0;
    end_session(s, STAGE_ENODE_DOWN, why, true);
    return 1;
}

/* ---- the handshake ---------------------------------------------------- */

void stage__session_hello(const stage__session_t *s, uint32_t *known,
                          uint64_t *received) {
    *known = s->peer;
    *received = s->received;
}

bool stage__session_stale(const stage__session_t *s, uint32_t inc,
                          uint64_t number) {
    return inc == s->peer && number <= s->greeted;
}

int stage__session_greeted(stage__session_t *s, uint32_t inc, uint32_t known,
                           uint64_t received, uint64_t number, uint64_t now,
                           char *why, size_t whylen) {
    const char *dead;
    char text[STAGE__SESSION_WHY_MAX];
    if (stage__session_is_dead(s, inc, &dead)) {
        snprintf(why, whylen, "%s", dead);
        return STAGE__SESSION_DEAD;
    }
    if (stage__session_stale(s, inc, number)) return STAGE__SESSION_STALE;
    if (stage__session_has_left(s, inc)) return STAGE__SESSION_LEFT;
    if (s->peer && s->peer != inc) {
        snprintf(text, sizeof text, "it restarted (incarnation %x replaced %x)",
                 inc, s->peer);
        end_session(s, STAGE_ESTOPPED, text, true);
    }
    if (known == s->self && (received < s->acked || received > s->sent)) {
        snprintf(text, sizeof text,
                 "its session does not match ours (it took %llu of our "
                 "frames; we sent %llu, it acknowledged %llu)",
                 (unsigned long long)received, (unsigned long long)s->sent,
                 (unsigned long long)s->acked);
        if (s->peer)
            end_session(s, STAGE_EPROTO, text, true);
        else
            quarantine(s, inc, text);
        snprintf(why, whylen, "%s", text);
        return STAGE__SESSION_DEAD;
    }
    if (known != s->self && s->peer && (s->acked || s->received))
        end_session(s, STAGE_ECANCELED,
                    "it no longer has a session with this node", false);
    int result = s->peer ? STAGE__SESSION_RESUMED : STAGE__SESSION_NEW;
    s->peer = inc;
    s->greeted = number;
    s->heard = now;
    s->refused = 0;
    stage__store_rewind(s, known == s->self ? received : 0);
    s->ack_sent = s->received; /* our handshake told it */
    s->owed_bytes = 0;
    return result;
}

/* ---- the failure detector ---------------------------------------------- */

void stage__session_heard(stage__session_t *s, uint64_t now) {
    if (now > s->heard) s->heard = now;
}

int stage__session_refused(stage__session_t *s) {
    if (!s->peer || ++s->refused < s->cfg.refused_limit) return 0;
    char text[STAGE__SESSION_WHY_MAX];
    snprintf(text, sizeof text,
             "%d connection attempts in a row were refused: nothing listens "
             "at its address",
             s->refused);
    end_session(s, STAGE_ENODE_DOWN, text, true);
    return 1;
}

void stage__session_not_refused(stage__session_t *s) {
    s->refused = 0;
}

int stage__session_tick(stage__session_t *s, uint64_t now) {
    if (!s->peer || now < s->heard || now - s->heard < s->cfg.dead_after_ms)
        return 0;
    char text[STAGE__SESSION_WHY_MAX];
    snprintf(text, sizeof text, "nothing heard from it for %llu ms",
             (unsigned long long)(now - s->heard));
    end_session(s, STAGE_ENODE_DOWN, text, true);
    return 1;
}
