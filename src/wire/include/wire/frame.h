/*
** wire/frame.h: the frames nodes exchange over a connection.
**
**     0      2         3       4                8
**     | "ST" | version | kind  | body length   | body: one msgpack value |
**                               u32 big-endian
**
** A frame is at most a configured size (header included; default
** STAGE__FRAME_MAX_DEFAULT). The kind byte says what the body is; its
** values belong to the protocol messages (docs/protocol.md). The version is
** STAGE__FRAME_VERSION; a frame of another version is refused (it changes
** with any incompatible change to the layout or to the bodies).
**
** Encoding appends to a stage_pack_t, so a connection batches many frames
** into one write. Decoding is incremental: feed whatever a read returned
** (any split, down to a byte at a time) and take complete frames out in
** order. Every byte is hostile: the magic and version are checked as soon
** as they arrive, the length before the body is buffered (so an oversized
** frame costs nothing), and each body must be exactly one well-formed
** msgpack value within STAGE_PACK_MAX_DEPTH.
** Decoder states: OK -> FAILED (sticky; the connection should be closed).
** Not thread-safe: one owner per decoder (the connection's I/O thread).
*/
#ifndef STAGE_WIRE_FRAME_H
#define STAGE_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "stage/pack.h"
#include "util/buf.h"

#define STAGE__FRAME_VERSION 4
#define STAGE__FRAME_HEADER 8
#define STAGE__FRAME_MAX_DEFAULT ((size_t)8 << 20)

/* One decoded frame; body is borrowed from the decoder (see next). */
typedef struct stage__frame {
    uint8_t kind;
    const char *body;
    size_t len;
} stage__frame_t;

/* Write the 8-byte header of a frame of kind with a body of len bytes. */
void stage__frame_header(char out[STAGE__FRAME_HEADER], uint8_t kind,
                         uint32_t len);

/* Append a frame of kind with body[0..len) to out. 0, STAGE_ETOOBIG if the
** frame would pass max (0: the default; out is unchanged then), or out's
** error (STAGE_ENOMEM). */
int stage__frame_append(stage_pack_t *out, uint8_t kind, const void *body,
                        size_t len, size_t max);

/* Write a frame in place: begin appends a header and returns where the
** frame starts; write the body with stage_pack_*; end fills in the length.
** end returns 0, STAGE_ETOOBIG (the frame is taken off out again) or out's
** error. */
size_t stage__frame_begin(stage_pack_t *out, uint8_t kind);
int stage__frame_end(stage_pack_t *out, size_t start, size_t max);

typedef struct stage__fdec {
    stage_buf_t buf; /* bytes received, from off on not yet taken */
    size_t off;
    size_t max;
    int err;       /* 0, or the sticky STAGE_EPROTO / STAGE_EDECODE */
    char msg[128]; /* what was wrong, when err */
} stage__fdec_t;

/* Start a decoder for frames of at most max bytes (0: the default). */
void stage__fdec_init(stage__fdec_t *d, size_t max);
/* Free its memory. */
void stage__fdec_close(stage__fdec_t *d);

/* Copy data[0..len) in. 0 or STAGE_ENOMEM. */
int stage__fdec_feed(stage__fdec_t *d, const void *data, size_t len);
/* Zero-copy input (a libuv alloc_cb): *p gets room for at least want bytes
** (*len says how many), the read fills some, and commit(n) takes n of them
** in. 0 or STAGE_ENOMEM. */
int stage__fdec_space(stage__fdec_t *d, size_t want, char **p, size_t *len);
void stage__fdec_commit(stage__fdec_t *d, size_t n);

/* Take the next complete frame: 1 and *f (its body stays valid until the
** next feed, space or close), 0 if more bytes are needed, or a negative
** error: STAGE_EPROTO (bad magic, other version, oversized) or
** STAGE_EDECODE (malformed body), with the reason in stage__fdec_error. */
int stage__fdec_next(stage__fdec_t *d, stage__frame_t *f);
/* Why the decoder failed, e.g. "unsupported protocol version 2 (this node
** speaks 1)"; "" while it has not. */
const char *stage__fdec_error(const stage__fdec_t *d);

#endif
