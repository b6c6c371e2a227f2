/*
** wire/frame.c: frame encoding and the incremental frame decoder (see
** frame.h for the layout and the rules).
**
** Decoder buffer: bytes [off, len) of buf are received and not yet taken.
** Frames are handed out in place, so the buffer is only compacted (moved
** down to 0) when new input needs room, which never happens while a frame
** handed out is still in use (next -> use -> feed). A drained buffer that
** grew past RETAIN_MAX for one large frame is freed, so an idle connection
** keeps little memory. At most max + one read of bytes are ever held for a
** partial frame, since an oversized frame is refused from its header.
** Not thread-safe: one owner per decoder.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/errors.h"
#include "wire/frame.h"

#define MAGIC0 'S'
#define MAGIC1 'T'
#define RETAIN_MAX ((size_t)256 << 10)

void stage__frame_header(char out[STAGE__FRAME_HEADER], uint8_t kind,
                         uint32_t len) {
    out[0] = MAGIC0;
    out[1] = MAGIC1;
    out[2] = STAGE__FRAME_VERSION;
    out[3] = (char)kind;
    out[4] = (char)(len >> 24);
    out[5] = (char)(len >> 16);
    out[6] = (char)(len >> 8);
    out[7] = (char)len;
}

static size_t max_or_default(size_t max) {
    return max ? max : STAGE__FRAME_MAX_DEFAULT;
}

/* 1 if a body of len bytes fits a frame of at most max bytes. */
static int fits(size_t len, size_t max) {
    max = max_or_default(max);
    return max >= STAGE__FRAME_HEADER && len <= max - STAGE__FRAME_HEADER &&
           len <= UINT32_MAX;
}

int stage__frame_append(stage_pack_t *out, uint8_t kind, const void *body,
                        size_t len, size_t max) {
    if (out->err) return out->err;
    if (!fits(len, max)) return STAGE_ETOOBIG;
    char h[STAGE__FRAME_HEADER];
    stage__frame_header(h, kind, (uint32_t)len);
    stage_pack_raw(out, h, sizeof h);
    stage_pack_raw(out, body, len);
    return stage_pack_error(out);
}

size_t stage__frame_begin(stage_pack_t *out, uint8_t kind) {
    char h[STAGE__FRAME_HEADER];
    size_t start = out->len;
    stage__frame_header(h, kind, 0);
    stage_pack_raw(out, h, sizeof h);
    return start;
}

int stage__frame_end(stage_pack_t *out, size_t start, size_t max) {
    if (out->err) return out->err;
    size_t len = out->len - start - STAGE__FRAME_HEADER;
    if (!fits(len, max)) {
        out->len = start;
        return STAGE_ETOOBIG;
    }
    char *h = out->data + start;
    stage__frame_header(h, (uint8_t)h[3], (uint32_t)len);
    return 0;
}

/* ---- decoder
 * ----------------------------------------------------------------- */

void stage__fdec_init(stage__fdec_t *d, size_t max) {
    d->buf = (stage_buf_t)STAGE_BUF_INIT;
    d->off = 0;
    d->max = max_or_default(max);
    d->err = 0;
    d->msg[0] = '\0';
}

void stage__fdec_close(stage__fdec_t *d) {
    stage__buf_free(&d->buf);
    d->off = 0;
}

/* Make room for n more bytes, reusing what was taken before. */
static int make_room(stage__fdec_t *d, size_t n) {
    stage_buf_t *b = &d->buf;
    if (d->off == b->len) { /* drained */
        d->off = b->len = 0;
        if (b->cap > RETAIN_MAX && n <= RETAIN_MAX) stage__buf_free(b);
    }
    if (b->cap - b->len < n && d->off > 0) {
        memmove(b->data, b->data + d->off, b->len - d->off);
        b->len -= d->off;
        d->off = 0;
    }
    return stage__buf_reserve(b, n);
}

int stage__fdec_feed(stage__fdec_t *d, const void *data, size_t len) {
    int rc = make_room(d, len);
    if (rc) return rc;
    if (len) memcpy(d->buf.data + d->buf.len, data, len);
    d->buf.len += len;
    return 0;
}

int stage__fdec_space(stage__fdec_t *d, size_t want, char **p, size_t *len) {
    int rc = make_room(d, want);
    if (rc) return rc;
    *p = d->buf.data + d->buf.len;
    *len = d->buf.cap - d->buf.len;
    return 0;
}

void stage__fdec_commit(stage__fdec_t *d, size_t n) {
    if (n > d->buf.cap - d->buf.len) n = d->buf.cap - d->buf.len;
    d->buf.len += n;
}

/* Fail for good with code and a message. */
static int dfail(stage__fdec_t *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int dfail(stage__fdec_t *d, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return d->err = code;
}

/* Check the fixed header bytes received so far (avail of them at h). */
static int check_start(stage__fdec_t *d, const unsigned char *h, size_t avail) {
    /* the first wrong byte decides, so the message does not depend on
    ** how the stream was split */
    if (h[0] != MAGIC0)
        return dfail(d, STAGE_EPROTO,
                     "not a stage connection: frame starts with 0x%02x "
                     "instead of 'ST'",
                     h[0]);
    if (avail >= 2 && h[1] != MAGIC1)
        return dfail(d, STAGE_EPROTO,
                     "not a stage connection: frame starts with 0x%02x "
                     "0x%02x instead of 'ST'",
                     h[0], h[1]);
    if (avail >= 3 && h[2] != STAGE__FRAME_VERSION)
        return dfail(d, STAGE_EPROTO,
                     "unsupported protocol version %u (this node speaks %u)",
                     h[2], (unsigned)STAGE__FRAME_VERSION);
    return 0;
}

int stage__fdec_next(stage__fdec_t *d, stage__frame_t *f) {
    if (d->err) return d->err;
    size_t avail = d->buf.len - d->off;
    const unsigned char *h = (const unsigned char *)d->buf.data + d->off;
    if (avail == 0) return 0;
    if (check_start(d, h, avail)) return d->err;
    if (avail < STAGE__FRAME_HEADER) return 0;
    uint32_t len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
                   (uint32_t)h[6] << 8 | h[7];
    if (!fits(len, d->max))
        return dfail(d, STAGE_EPROTO,
                     "frame of %llu bytes exceeds the maximum of %zu bytes",
                     (unsigned long long)len + STAGE__FRAME_HEADER, d->max);
    if (avail - STAGE__FRAME_HEADER < len) return 0;
    const char *body = (const char *)h + STAGE__FRAME_HEADER;
    if (stage_pack_validate(body, len, 1))
        return dfail(d, STAGE_EDECODE,
                     "malformed frame body (kind %u, length %u)", h[3],
                     (unsigned)len);
    f->kind = h[3];
    f->body = body;
    f->len = len;
    d->off += STAGE__FRAME_HEADER + len;
    return 1;
}

const char *stage__fdec_error(const stage__fdec_t *d) {
    return d->msg;
}
