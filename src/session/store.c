/*
** session/store.c: the sender's side of a session — frames appended in
** place into chunks, handed to writes as spans without a copy, kept until
** acknowledged, rewound for a new connection, and given back when the
** session ends. See store.h for the chunks' rules.
** Not thread-safe: one owner (the transport's loop thread).
*/
#include <string.h>

#include "stage/errors.h"
#include "store.h"
#include "util/alloc.h"
#include "wire/frame.h"

/* A chunk for frames from s->next on: a spare one, or a new one. */
static stage__session_chunk_t *chunk_new(stage__session_t *s) {
    stage__session_chunk_t *c = s->spare;
    if (c) {
        s->spare = c->next;
        s->nspare--;
    } else if (!(c = stage__calloc(1, sizeof *c))) {
        return NULL;
    }
    c->next = NULL;
    c->first = s->next;
    c->count = c->sent_count = 0;
    c->sent_off = 0;
    c->pins = 0;
    c->orphan = false;
    return c;
}

static void chunk_free(stage__session_chunk_t *c) {
    stage_pack_free(&c->buf);
    stage__free(c);
}

/* c is no longer in s's list and nothing points into it. */
static void chunk_recycle(stage__session_t *s, stage__session_chunk_t *c) {
    if (s->nspare >= STORE_SPARES || c->buf.cap > STORE_RETAIN) {
        chunk_free(c);
        return;
    }
    stage_pack_reset(&c->buf);
    c->next = s->spare;
    s->spare = c;
    s->nspare++;
}

int stage__session_append(stage__session_t *s, int kind, const void *body,
                          size_t len) {
    if (len > s->cfg.max_frame - STAGE__FRAME_HEADER) return STAGE_ETOOBIG;
    size_t need = STAGE__FRAME_HEADER + len;
    if (s->bytes + need > s->cfg.max_bytes) return STAGE_EBUSY;
    stage__session_chunk_t *c = s->tail;
    bool full = c && c->buf.len && c->buf.len + need > STORE_CHUNK;
    bool fresh = !c || c->pins || full;
    if (fresh && !(c = chunk_new(s))) return STAGE_ENOMEM;
    if (full && c->buf.cap < STORE_CHUNK) {
        /* a stream fills chunk after chunk: size this one at once rather
        ** than copying it as it doubles (the frame itself may need more) */
        char *d = stage__realloc(c->buf.data, STORE_CHUNK);
        if (d) c->buf.data = d, c->buf.cap = STORE_CHUNK;
    }
    size_t before = c->buf.len;
    int rc = stage__frame_append(&c->buf, (uint8_t)kind, body, len,
                                 s->cfg.max_frame);
    if (rc) {
        c->buf.len = before;
        c->buf.err = 0;
        if (fresh) chunk_recycle(s, c);
        return rc;
    }
    if (fresh) {
        if (s->tail)
            s->tail->next = c;
        else
            s->head = c;
        s->tail = c;
    }
    c->count++;
    s->next++;
    s->bytes += need;
    return 0;
}

bool stage__session_unsent(const stage__session_t *s) {
    const stage__session_chunk_t *c = s->tail;
    return c && c->sent_off < c->buf.len;
}

size_t stage__session_take(stage__session_t *s, stage__session_span_t *spans,
                           size_t max, uint64_t *frames) {
    size_t n = 0;
    *frames = 0;
    stage__session_chunk_t *c = s->wchunk ? s->wchunk : s->head;
    for (; c && n < max; c = c->next) {
        if (c->sent_off == c->buf.len) continue;
        spans[n++] = (stage__session_span_t){c, c->buf.data + c->sent_off,
                                             c->buf.len - c->sent_off};
        *frames += c->count - c->sent_count;
        c->sent_off = c->buf.len;
        c->sent_count = c->count;
        c->pins++;
        s->wchunk = c;
        if (c->first + c->count > s->sent) s->sent = c->first + c->count;
    }
    return n;
}

void stage__session_release(stage__session_t *s, stage__session_chunk_t *c) {
    if (--c->pins > 0) return;
    if (c->orphan) {
        chunk_free(c);
        return;
    }
    stage__store_ack(s, s->acked); /* it may be recyclable now */
}

void stage__store_ack(stage__session_t *s, uint64_t n) {
    if (n > s->acked) s->acked = n;
    stage__session_chunk_t *c;
    while ((c = s->head) && c->first + c->count <= s->acked && !c->pins) {
        s->bytes -= c->buf.len;
        if (c == s->tail) { /* the last: keep appending to it */
            if (c->buf.cap > STORE_RETAIN)
                stage_pack_free(&c->buf);
            else
                stage_pack_reset(&c->buf);
            c->first = s->next;
            c->count = c->sent_count = 0;
            c->sent_off = 0;
            return;
        }
        s->head = c->next;
        if (s->wchunk == c) s->wchunk = NULL;
        chunk_recycle(s, c);
    }
}

int stage__session_acked(stage__session_t *s, uint64_t n) {
    if (n > s->sent) return STAGE_EPROTO;
    if (n > s->acked) stage__store_ack(s, n);
    return 0;
}

size_t stage__session_bytes(const stage__session_t *s) {
    return s->bytes;
}

uint64_t stage__session_unacked(const stage__session_t *s) {
    return s->next - s->acked;
}

/* The length of the frame whose header is at h. */
static size_t frame_len(const char *h) {
    const unsigned char *u = (const unsigned char *)h;
    return STAGE__FRAME_HEADER + ((size_t)u[4] << 24 | (size_t)u[5] << 16 |
                                  (size_t)u[6] << 8 | (size_t)u[7]);
}

void stage__store_rewind(stage__session_t *s, uint64_t from) {
    stage__store_ack(s, from);
    s->wchunk = NULL;
    for (stage__session_chunk_t *c = s->head; c; c = c->next) {
        c->sent_off = 0;
        c->sent_count = 0;
        if (c->first >= from) continue;
        if (c->first + c->count <= from) { /* acknowledged, still pinned */
            c->sent_off = c->buf.len;
            c->sent_count = c->count;
            continue;
        }
        while (c->first + c->sent_count < from) {
            c->sent_off += frame_len(c->buf.data + c->sent_off);
            c->sent_count++;
        }
    }
}

stage__session_chunk_t *stage__store_detach(stage__session_t *s,
                                            stage__session_iter_t *it) {
    stage__session_chunk_t *c = s->head;
    *it = (stage__session_iter_t){c, 0, c ? c->first : 0, s->acked, s->next};
    s->head = s->tail = s->wchunk = NULL;
    s->next = s->acked = s->sent = 0;
    s->bytes = 0;
    return c;
}

void stage__store_drop(stage__session_t *s, stage__session_chunk_t *c) {
    while (c) {
        stage__session_chunk_t *next = c->next;
        if (c->pins)
            c->orphan = true;
        else
            chunk_recycle(s, c);
        c = next;
    }
}

void stage__store_free(stage__session_t *s) {
    stage__session_iter_t it;
    stage__session_chunk_t *c = stage__store_detach(s, &it);
    while (c) {
        stage__session_chunk_t *next = c->next;
        if (c->pins)
            c->orphan = true;
        else
            chunk_free(c);
        c = next;
    }
    while ((c = s->spare)) {
        s->spare = c->next;
        chunk_free(c);
    }
    s->nspare = 0;
}

int stage__session_iter_next(stage__session_iter_t *it, int *kind,
                             const char **body, size_t *len) {
    while (it->chunk && it->seq < it->end) {
        const stage__session_chunk_t *c = it->chunk;
        if (it->off >= c->buf.len) {
            it->chunk = c->next;
            it->off = 0;
            if (it->chunk) it->seq = it->chunk->first;
            continue;
        }
        const char *h = c->buf.data + it->off;
        size_t n = frame_len(h);
        it->off += n;
        if (it->seq++ < it->start) continue;
        *kind = (unsigned char)h[3];
        *body = h + STAGE__FRAME_HEADER;
        *len = n - STAGE__FRAME_HEADER;
        return 1;
    }
    return 0;
}
