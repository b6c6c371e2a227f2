/*
** session/store.h: the sender's store of a session (store.c), shared with
** session.c — the chunks that hold frames [acked, next), oldest first.
**
** A chunk is appended to in place while no write points into it (pins 0)
** and it holds less than STORE_CHUNK bytes; frames of one chunk are
** consecutive, first..first+count-1. sent_off/sent_count say how much of
** it was handed to the current connection. A chunk is recycled once all
** its frames are acknowledged and no write points into it; one detached
** at a session end while pinned is an orphan, freed at its last release.
*/
#ifndef STAGE_SESSION_STORE_H
#define STAGE_SESSION_STORE_H

#include "session/session.h"

#define STORE_CHUNK ((size_t)64 << 10) /* a chunk takes frames up to this */
#define STORE_RETAIN ((size_t)1 << 20) /* larger buffers are not recycled */
#define STORE_SPARES 4                 /* recycled chunks kept */

struct stage__session_chunk {
    stage__session_chunk_t *next;
    stage_pack_t buf; /* frames, headers and bodies, as written */
    uint64_t first;   /* sequence number of its first frame */
    uint32_t count;   /* frames in it */
    uint32_t sent_count;
    size_t sent_off; /* bytes handed to the current connection */
    int pins;        /* writes in flight that point into it */
    bool orphan;     /* detached from its session: free at the last release */
};

/* Move the acknowledged count to n (>= acked) and recycle what it frees. */
void stage__store_ack(stage__session_t *s, uint64_t n);
/* The next connection starts at frame from: what is before is skipped. */
void stage__store_rewind(stage__session_t *s, uint64_t from);
/* Take every chunk out of s (the session restarts empty); the iterator
** over frames [acked, next) of them is filled. Give them back with
** stage__store_drop after use. */
stage__session_chunk_t *stage__store_detach(stage__session_t *s,
                                            stage__session_iter_t *it);
/* Recycle or free detached chunks (pinned ones become orphans). */
void stage__store_drop(stage__session_t *s, stage__session_chunk_t *c);
/* Free every chunk of s, spares included (pinned ones become orphans). */
void stage__store_free(stage__session_t *s);

#endif
