/*
** core/theatre.c: a theatre — one thread running its actors' turns.
**
** Loop: drain the inbox (messages, completed futures, calls), run due timers,
** run the actors on the run queue (each up to STAGE_TURN_MESSAGES messages),
** and sleep on a futex when there is nothing left, until the next timer or a
** push wakes it.
**
** Sleeping: the theatre stores sleeping = 1, then looks at the inbox once
** more; a producer pushes, then reads sleeping. Both are seq_cst, so at least
** one of them sees the other (Dekker), and no wake-up is lost.
**
** Work accounting (see core.h): the theatre holds one unit of node->work
** while busy. It takes the unit back before retiring any counted envelope,
** so the count cannot touch zero while an event is still on its way.
*/
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/kind.h"
#include "core/move.h"
#include "core/node.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

_Thread_local stage__theatre_t *stage__current_theatre;

/* stage__node_stopping, inlined: the run loop asks before every message. */
static inline bool stopping(const stage__theatre_t *t) {
    return atomic_load_explicit(&t->node->stopping, memory_order_acquire);
}

double stage__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

stage__theatre_t *stage__theatre_new(stage_node_t *node, int index) {
    stage__theatre_t *t = stage__aligned_alloc(64, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    stage__mpsc_init(&t->inbox);
    t->node = node;
    t->index = index;
    atomic_init(&t->next_serial, 1);
    t->place_to = index;
    t->busy = true; /* matches the unit stage_node_start adds */
    return t;
}

void stage__theatre_wake(stage__theatre_t *t) {
    if (atomic_load(&t->sleeping)) {
        atomic_store(&t->sleeping, 0);
        if (t->poller.poll)
            t->poller.wake(t->poller.ud);
        else
            stage__futex_wake(&t->sleeping);
    }
}

void stage__theatre_push(stage__theatre_t *t, stage__item_t *it) {
    stage__mpsc_push(&t->inbox, &it->link);
    stage__theatre_wake(t);
}

void stage__theatre_post(stage__theatre_t *t, stage__env_t *e) {
    stage__work_add(t->node, 1);
    e->hdr.flags |= ENV_COUNTED;
    stage__theatre_push(t, &e->hdr);
}

/* ---- run queue --------------------------------------------------------------
 */

void stage__actor_schedule(stage__theatre_t *t, stage__actor_t *a) {
    if (a->flags & (ACTOR_QUEUED | ACTOR_DEAD)) return;
    a->flags |= ACTOR_QUEUED;
    a->run_next = NULL;
    t->nrun++;
    if (t->run_tail)
        t->run_tail->run_next = a;
    else
        t->run_head = a;
    t->run_tail = a;
}

void stage__actor_ready(stage__theatre_t *t, stage__actor_t *a) {
    a->flags |= ACTOR_READY;
    stage__actor_schedule(t, a);
}

/* 1 if e is an update of its target's code (STAGE__UPDATE_METHOD). */
static bool is_update(const stage__env_t *e) {
    return e->hdr.kind == ENV_MSG && e->data[0] == '_' &&
           e->mlen == sizeof STAGE__UPDATE_METHOD - 1 &&
           !memcmp(e->data, STAGE__UPDATE_METHOD, e->mlen);
}

void stage__actor_enqueue(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e) {
    e->next = NULL;
    if (e->data[0] == '_' && is_update(e)) {
        /* a priority message: after the current one, ahead of those
        ** queued (behind earlier updates, in their order) */
        stage__env_t **p = &a->mbox_head;
        while (*p && is_update(*p))
            p = &(*p)->next;
        e->next = *p;
        *p = e;
        if (!e->next) a->mbox_tail = e;
        if (!(a->flags & ACTOR_SUSPENDED)) stage__actor_schedule(t, a);
        return;
    }
    if (a->mbox_tail)
        a->mbox_tail->next = e;
    else
        a->mbox_head = e;
    a->mbox_tail = e;
    if (!(a->flags & ACTOR_SUSPENDED)) stage__actor_schedule(t, a);
}

static stage__env_t *mailbox_pop(stage__actor_t *a) {
    stage__env_t *e = a->mbox_head;
    if (e && !(a->mbox_head = e->next)) a->mbox_tail = NULL;
    return e;
}

/* ---- turns ------------------------------------------------------------------
 */

/* in_turn is relaxed, and so is turn_seq for preemption: the watchdog only
** compares what it reads over time to decide whether to ask for a
** preemption, and the theatre checks the request against its own values
** (stage__preempt_wanted), so a stale read costs at most one look's delay
** and never preempts another turn. turn_seq's release store serves only
** the log of a stuck turn, which names its actor. */
void stage__turn_begin(stage__theatre_t *t, stage__actor_t *a) {
    t->running = a;
    atomic_store_explicit(&t->turn_serial, a->serial, memory_order_relaxed);
    atomic_store_explicit(&t->turn_type, a->type, memory_order_relaxed);
    /* release: the watchdog that reads this turn_seq (acquire) reads the
    ** actor stored above, or a later one's if the seq moved on, which it
    ** sees when it reads the seq again (node.c, watch_stuck) */
    atomic_store_explicit(
        &t->turn_seq,
        atomic_load_explicit(&t->turn_seq, memory_order_relaxed) + 1,
        memory_order_release);
    atomic_store_explicit(&t->in_turn, 1, memory_order_relaxed);
}

void stage__turn_end(stage__theatre_t *t) {
    atomic_store_explicit(&t->in_turn, 0, memory_order_relaxed);
    t->running = NULL;
}

int stage__preempt_wanted(stage__theatre_t *t) {
    /* relaxed: preempt_seq carries nothing but its value (watchdog_main says
    ** how it reaches the signal handler); in_turn and turn_seq are this
    ** thread's own writes */
    uint64_t want = atomic_load_explicit(&t->preempt_seq, memory_order_relaxed);
    return atomic_load_explicit(&t->in_turn, memory_order_relaxed) &&
           want == atomic_load_explicit(&t->turn_seq, memory_order_relaxed);
}

/* After a turn suspended with result r: wait, or go to the back of the
** queue if preempted. Returns 1 if suspended. */
static int suspended(stage__theatre_t *t, stage__actor_t *a, int r) {
    if (r == TURN_DONE) {
        a->flags &= ~ACTOR_SUSPENDED;
        return 0;
    }
    a->flags |= ACTOR_SUSPENDED;
    if (r == TURN_PREEMPTED) {
        stage__actor_ready(t, a);
        t->sliced = true; /* steal.c: work this long is worth spreading */
        t->preempted_at = stage__now();
    }
    return 1;
}

#define STEAL_MIN 4 /* actors queued from which t may give some away */

/* 1 if another theatre is hungry and t has a backlog it may give. The load
** is relaxed: a hint (steal.c says why that is enough). */
static inline bool may_give(const stage__theatre_t *t) {
    return (t->nrun >= STEAL_MIN || (t->sliced && t->nrun)) &&
           atomic_load_explicit(&t->node->nhungry, memory_order_relaxed);
}

/* 1 if run_actor, in a turn that goes on, would deliver e now: a plain
** message (not a system one, an update or an order to stop). */
static inline bool plain(const stage__env_t *e) {
    return e && e->hdr.kind == ENV_MSG && !(e->hdr.flags & ENV_SYSTEM) &&
           e->data[0] != '_';
}

#define TURN_ENDS (ACTOR_STOPPING | ACTOR_RESTART | ACTOR_MOVING)

/* A turn timed for steal.c (run_actor): when it began, and the theatre's
** turn_seq then, which counts its messages and resumes. */
typedef struct turn_clock {
    double start;
    uint64_t seq;
} turn_clock_t;

static void clock_start(stage__theatre_t *t, turn_clock_t *c) {
    c->start = stage__now();
    c->seq = atomic_load_explicit(&t->turn_seq, memory_order_relaxed);
}

static void clock_stop(stage__theatre_t *t, stage__actor_t *a,
                       turn_clock_t *c) {
    uint64_t seq = atomic_load_explicit(&t->turn_seq, memory_order_relaxed);
    if (seq != c->seq)
        stage__steal_weigh(t, a, stage__now() - c->start, seq - c->seq);
}

stage__env_t *stage__turn_next(stage__theatre_t *t, stage__actor_t *a) {
    stage__env_t *e = a->mbox_head;
    if (!plain(e) || t->turn_msgs + 1 >= STAGE_TURN_MESSAGES ||
        (a->flags & TURN_ENDS) || stopping(t))
        return NULL;
    mailbox_pop(a);
    t->turn_msgs++;
    stage__turn_end(t);
    stage__turn_begin(t, a);
    return e;
}

stage__actor_t *stage__turn_after(stage__theatre_t *t,
                                  const stage__actor_t *a) {
    stage__actor_t *b = t->run_head;
    if (!b || a->mbox_head || b->type->slot != a->type->slot ||
        t->turn_msgs + 1 >= STAGE_TURN_MESSAGES || (a->flags & TURN_ENDS) ||
        (b->flags & (TURN_ENDS | ACTOR_SUSPENDED | ACTOR_DEAD | ACTOR_HEAVY)) ||
        !plain(b->mbox_head) || stopping(t) || may_give(t))
        return NULL;
    return b;
}

stage__env_t *stage__turn_switch(stage__theatre_t *t, stage__actor_t *a,
                                 stage__actor_t *b) {
    /* a's turn ends as run_actor would end it: nothing is queued for it,
    ** and it neither stops nor restarts */
    a->flags &= ~ACTOR_SUSPENDED;
    if (!(t->run_head = b->run_next)) t->run_tail = NULL;
    t->nrun--;
    if (b == t->pass_last) t->pass_last = NULL; /* the pass ends with b */
    b->flags &= ~ACTOR_QUEUED;
    t->switched = b;
    t->turn_msgs++;
    stage__turn_end(t);
    stage__turn_begin(t, b);
    return mailbox_pop(b);
}

/* After a deliver or resume of a: the actor whose turn it ended in, a
** unless the kind went on to others (stage__turn_switch). */
static inline stage__actor_t *turn_owner(stage__theatre_t *t,
                                         stage__actor_t *a) {
    if (!t->switched) return a;
    a = t->switched;
    t->switched = NULL;
    return a;
}

/* After each STAGE_TURN_MESSAGES messages of a's turn: 1 if it takes
** more. A turn is that many messages, unless handlers were preempted on
** this theatre lately: then an actor with many short messages gets a
** slice, as each of those long handlers does, not the hundredth of one
** that 100 messages take (the receiver of a flood, beside its senders,
** would fall ever further behind, and its mailbox grow without end).
** until: 0 at the start of the turn; the end of its slice after. */
static bool turn_goes_on(stage__theatre_t *t, stage__actor_t *a,
                         double *until) {
    if (!a->mbox_head) return false;
    double now = stage__now();
    if (!*until) {
        double slice = stage__node_config(t->node)->slice_secs;
        if (now - t->preempted_at > 2 * slice) return false;
        *until = now + slice;
    }
    return now < *until;
}

/* Run a's turn: continue its suspended handler, then up to
** STAGE_TURN_MESSAGES messages (or a slice of them: turn_goes_on). Once
** the node is stopping no handler starts (stage.exit stops the node after
** the current turn). A turn that failed under on_error "restart" is
** followed by the restart, before the next message (onerror.c). The kind
** may go on to the next actors of the run queue in the same turn
** (stage__turn_switch): the rest of it is then the last one's.
** timed: t looks for actors to give (may_give): the turn is weighed. */
static void run_actor(stage__theatre_t *t, stage__actor_t *a, bool timed) {
    a->flags &= ~ACTOR_QUEUED;
    if (a->flags & ACTOR_DEAD) { /* destroyed while queued: free it here */
        stage__free(a);
        return;
    }
    if (stopping(t)) return;
    t->turn_msgs = 0;
    turn_clock_t clock = {0, 0};
    if (timed) clock_start(t, &clock);
    if (a->flags & ACTOR_SUSPENDED) {
        if (!(a->flags & ACTOR_READY)) return;
        a->flags &= ~ACTOR_READY;
        stage__turn_begin(t, a);
        int r = a->type->impl->resume(t, a);
        stage__turn_end(t);
        a = turn_owner(t, a);
        if (suspended(t, a, r)) {
            if (timed) clock_stop(t, a, &clock);
            return;
        }
    }
    double until = 0;
    /* messages a deliver took itself (stage__turn_next) count in the turn */
    for (int n = t->turn_msgs;; n = ++t->turn_msgs) {
        if (n == STAGE_TURN_MESSAGES) {
            if (!turn_goes_on(t, a, &until)) break;
            n = t->turn_msgs = 0;
        }
        if (a->flags & TURN_ENDS) {
            /* a node that stops reaps a failed instance: no restart */
            if ((a->flags & (ACTOR_STOPPING | ACTOR_RESTART)) ==
                    ACTOR_RESTART &&
                !stopping(t))
                stage__actor_restart(t, a);
            if (a->flags & ACTOR_STOPPING) break;
            if (a->flags & ACTOR_MOVING) { /* between messages: it goes */
                stage__move_resume(t, a);  /* may free a */
                return;
            }
        }
        if (stopping(t)) return; /* the stop takes a */
        stage__env_t *e = mailbox_pop(a);
        if (!e) break;
        if (e->hdr.kind == ENV_STOP_ACTOR) {
            a->flags |= ACTOR_STOPPING;
            if (e->future)
                stage__future_resolve(e->future, "\xc3", 1); /* true */
            stage__env_free(e);
            break;
        }
        stage__turn_begin(t, a);
        int r = a->type->impl->deliver(t, a, e);
        stage__turn_end(t);
        a = turn_owner(t, a);
        if (suspended(t, a, r)) {
            if (timed) clock_stop(t, a, &clock);
            return;
        }
    }
    if (timed) clock_stop(t, a, &clock);
    if ((a->flags & (ACTOR_STOPPING | ACTOR_RESTART)) == ACTOR_RESTART &&
        !stopping(t))
        stage__actor_restart(t, a);
    if (a->flags & ACTOR_STOPPING) {
        if (a->move) stage__move_resume(t, a); /* fails it */
        stage__move_gone(t, a->serial);        /* away from home: hub */
        stage__actor_destroy(t, a);
    } else if (a->mbox_head)
        stage__actor_schedule(t, a);
}

#define PUBLISH_EVERY 64 /* actors run between publications of the load */

#define WEIGH_EVERY 8 /* turns looked at per one weighed (a power of 2) */

/* Before each actor of a pass: if another theatre is hungry and t has a
** backlog, steal.c counts how long t has been busy and gives some away.
** true if the next turn is to be weighed (run_actor): one of WEIGH_EVERY
** it looked before, so that two reads of the clock cost a short turn
** about 1% (a turn's weight is a hint, and a heavy actor's turns are
** all long). */
static inline bool steal_look(stage__theatre_t *t, stage__actor_t **last) {
    if (!may_give(t)) return false;
    stage__steal_give(t, last);
    return (++t->looks & (WEIGH_EVERY - 1)) == 0;
}

/* Run the actors queued now; newly queued ones wait for the next pass so
** timers and the inbox are not starved. */
static void run_queue(stage__theatre_t *t) {
    t->pass_last = t->run_tail;
    for (unsigned k = 1; t->run_head; k++) {
        bool timed = steal_look(t, &t->pass_last);
        if (!t->run_head) break;
        stage__actor_t *a = t->run_head;
        if (!(t->run_head = a->run_next)) t->run_tail = NULL;
        t->nrun--;
        /* a long pass keeps the load others place by up to date */
        if (k % PUBLISH_EVERY == 0) stage__place_publish(t);
        if (a == t->pass_last) t->pass_last = NULL;
        /* the pass ends with its last actor, run here or by a turn that
        ** went on to it (stage__turn_switch) */
        run_actor(t, a, timed);
        if (!t->pass_last || stopping(t)) break;
    }
}

/* ---- inbox ----------------------------------------------------------------
 */

/* Deliver a message that reached this theatre (thesis Listing 5.7): to the
** local actor, else to the theatre the shared info names, else fail it. */
static void receive(stage__theatre_t *t, stage__env_t *e) {
    stage__actor_t *a = stage__actor_find(t, e->target);
    if (a && !(a->flags & ACTOR_LEAVING)) {
        stage__actor_enqueue(t, a, e);
        return;
    }
    if (a) { /* its image is on its way: its birth theatre holds */
        stage__move_leaving(t, e);
        return;
    }
    if (stage__move_miss(t, e)) return; /* moved by stage_migrate */
    int moved = stage__shared_lookup(t->node, e->target);
    if (moved >= 0 && moved != t->index) {
        stage__theatre_post(stage__node_theatre(t->node, moved), e);
        return;
    }
    stage__env_undeliverable(t->node, e);
}

static void take(stage__theatre_t *t, stage__item_t *it) {
    switch (it->kind) {
    case ENV_FUTURE:
        stage__future_fire(t, (stage__future_t *)it);
        break;
    case ENV_CALL: {
        stage__env_t *e = (stage__env_t *)it;
        if (e->target)
            receive(t, e);
        else
            e->call(t, NULL, e);
        break;
    }
    default:
        receive(t, (stage__env_t *)it);
    }
}

/* At most this many inbox items per pass of the loop: a step that posts
** the next to its own theatre (a move that asks for another from
** `departing`, without end) must not keep the loop from its run queue,
** timers and stop. */
#define DRAIN_BATCH 4096

/* Take what other threads sent. Not once the node is stopping: a
** completed future would run its continuations (next, catch), which are
** turns too; what is left is dropped at teardown. */
static void drain_inbox(stage__theatre_t *t) {
    int retired = 0, taken = 0;
    stage__mpsc_node_t *n;
    while (!stopping(t) && taken++ < DRAIN_BATCH &&
           (n = stage__mpsc_pop(&t->inbox))) {
        if (!t->busy) {
            t->busy = true;
            stage__work_add(t->node, 1);
        }
        stage__item_t *it = (stage__item_t *)n;
        if (it->flags & ENV_COUNTED) {
            it->flags &= ~ENV_COUNTED;
            retired++;
        }
        take(t, it);
    }
    if (retired) stage__work_sub(t->node, retired);
}

/* ---- the loop ----------------------------------------------------------- */

/* Before sleeping, linger: spin for LINGER_SPIN_SECS, then yield the core
** until LINGER_SECS. A message from another theatre often follows within
** microseconds (a reply, the next step of a move), while a futex sleep
** and its wake-up cost tens of them where an idle CPU halts (a virtual
** machine's vCPU: 26 us a move between two theatres with 6 us of
** lingering, 7 us with 50). Yielding soon keeps a loaded machine's other
** threads (often the very theatre we wait for) running: on an idle one
** sched_yield returns at once, and costs what spinning does. */
#define LINGER_SPIN_SECS 5e-6
#define LINGER_SECS 50e-6

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* 1 if something arrived while spinning and yielding. The clock is read
** once in 8 rounds (a round is tens of ns spinning). */
static int linger(stage__theatre_t *t) {
    double start = stage__now();
    for (unsigned i = 1;; i++) {
        if (!stage__mpsc_empty(&t->inbox) || stopping(t)) return 1;
        if (i % 8) {
            cpu_relax();
            continue;
        }
        double spent = stage__now() - start;
        if (spent >= LINGER_SECS) return 0;
        if (spent >= LINGER_SPIN_SECS) sched_yield();
    }
}

/* The I/O theatre lingers by polling its sockets: the reply to what it
** just sent, or the next frame of a stream, usually comes within this,
** and a sleep in epoll plus the wake-up costs more than the poll. */
#define POLL_LINGER_SECS 50e-6

static int linger_polling(stage__theatre_t *t) {
    double until = stage__now() + POLL_LINGER_SECS;
    do {
        if (t->poller.poll(t->poller.ud, 0) || !stage__mpsc_empty(&t->inbox) ||
            stopping(t))
            return 1;
    } while (stage__now() < until);
    return 0;
}

static void idle(stage__theatre_t *t, double next_timer) {
    if (t->poller.poll ? linger_polling(t) : linger(t)) return;
    if (next_timer < 0 && t->busy) {
        t->busy = false;
        stage__work_sub(t->node, 1); /* may stop the node */
    }
    stage__place_idle(t); /* load 0: a spawn finds it idle */
    stage__steal_ask(t);  /* a busy theatre may give it actors */
    atomic_store(&t->sleeping, 1);
    if (!stage__mpsc_empty(&t->inbox) || stopping(t)) {
        atomic_store(&t->sleeping, 0);
        stage__steal_fed(t);
        return;
    }
    if (t->poller.poll)
        t->poller.poll(t->poller.ud, next_timer);
    else
        stage__futex_wait(&t->sleeping, 1, next_timer);
    atomic_store(&t->sleeping, 0);
    stage__steal_fed(t);
}

static void *theatre_main(void *arg) {
    stage__theatre_t *t = arg;
    stage__current_theatre = t;
    if (t->index == 0 && t->node->net_hooks.adopt)
        t->node->net_hooks.adopt(t->node, t);
    while (!stopping(t)) {
        drain_inbox(t);
        double next = stage__timers_run(t);
        stage__place_publish(t);
        run_queue(t);
        if (t->poller.poll) t->poller.poll(t->poller.ud, 0);
        if (t->run_head || !stage__mpsc_empty(&t->inbox)) continue;
        if (t->nheap) { /* the turns took time: a timer may be due now */
            next = stage__timers_run(t);
            if (t->run_head) continue;
        }
        idle(t, next);
    }
    stage__actors_reap(t);
    stage__current_theatre = NULL;
    atomic_store(&t->ended, 1);
    stage__futex_wake(&t->ended);
    return NULL;
}

int stage__theatre_start(stage__theatre_t *t) {
    if (pthread_create(&t->thread, NULL, theatre_main, t)) return STAGE_ENOMEM;
    /* joinable and not joined yet: its pthread_t is valid here */
    t->has_cpu_clock = !pthread_getcpuclockid(t->thread, &t->cpu_clock);
    return 0;
}

/* Waits on stage__now's clock, not the wall clock a timed join would use:
** a wall clock being set or slewed (NTP) must not move the deadline. The
** join itself is plain, once the thread is done, so that ThreadSanitizer
** sees it. */
int stage__theatre_join(stage__theatre_t *t, double deadline) {
    while (!atomic_load(&t->ended)) {
        double left = deadline - stage__now();
        if (left <= 0) return STAGE_ETIMEOUT;
        stage__futex_wait(&t->ended, 0, left);
    }
    pthread_join(t->thread, NULL);
    return 0;
}

/* Take everything t's inbox holds now: output for the stdout actor out
** (if not NULL) is queued to it; the rest, with drop, is let go —
** completed futures abandoned (their continuations never run), other
** envelopes failed with Stopped — or, without drop, left alone (the node
** is abandoned to a theatre that still runs, which may use them). Returns
** how many items there were. */
static int drain_stopped(stage__theatre_t *t, stage__actor_t *out, bool drop) {
    stage__mpsc_node_t *n;
    int k = 0;
    while ((n = stage__mpsc_pop(&t->inbox))) {
        stage__item_t *it = (stage__item_t *)n;
        stage__env_t *e = (stage__env_t *)it;
        k++;
        if (out && it->kind == ENV_MSG && e->target == out->serial)
            stage__actor_enqueue(t, out, e); /* output is never lost */
        else if (!drop)
            continue; /* leaked with the node */
        else if (it->kind == ENV_FUTURE)
            stage__future_abandon((stage__future_t *)it);
        else
            stage__env_drop(e, STAGE_ESTOPPED);
    }
    return k;
}

/* Print what the stdout actor out (may be NULL) holds. */
static void print_output(stage__theatre_t *t, stage__actor_t *out) {
    for (stage__env_t *e; out && (e = out->mbox_head);) {
        if (!(out->mbox_head = e->next)) out->mbox_tail = NULL;
        out->type->impl->deliver(t, out, e);
    }
}

/* Teardown (stage_node_destroy), after the theatres' threads have stopped,
** on the thread destroying the node, which becomes each theatre's thread
** in turn. Failing a message completes its future, which its owner's inbox
** then receives, whichever theatre that is; so the steps go over every
** theatre before the next begins: clear each (its actors go; their deaths
** ran at the stop, stage__actors_reap), drain the inboxes until every one
** is quiet, close each (its Lua state, whose collector may drop futures
** too), drain again, and only then free any. */
void stage__theatre_clear(stage__theatre_t *t) {
    stage__current_theatre = t;
    t->deaths_over = true; /* a node never started, say */
    stage__actor_t *out = stage__actor_find(t, t->node->stdout_serial);
    drain_stopped(t, out, true);
    print_output(t, out);
    stage__actors_destroy_all(t);
    stage__move_free(t);
    stage__timers_free(t);
    stage__current_theatre = NULL;
}

int stage__theatre_drain(stage__theatre_t *t) {
    stage__current_theatre = t;
    int k = drain_stopped(t, NULL, true);
    stage__current_theatre = NULL;
    return k;
}

void stage__theatre_close(stage__theatre_t *t) {
    stage__current_theatre = t;
    stage_node_t *n = t->node;
    for (int i = 0; i < n->nkinds; i++)
        if (n->kinds[i].kind->theatre_close)
            n->kinds[i].kind->theatre_close(t, t->kind_data[i]);
    stage__current_theatre = NULL;
}

void stage__theatre_free(stage__theatre_t *t) {
    stage__current_theatre = t;
    stage__caches_free(t);
    stage__current_theatre = NULL;
    stage__aligned_free(t);
}

void stage__theatre_flush_output(stage__theatre_t *t) {
    stage__current_theatre = t;
    stage__actor_t *out = stage__actor_find(t, t->node->stdout_serial);
    drain_stopped(t, out, false);
    print_output(t, out);
    stage__current_theatre = NULL;
}
