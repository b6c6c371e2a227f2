/*
** core/steal.c: work stealing inside one node — an idle theatre gets
** runnable mobile actors from one that has had a backlog for a while.
**
** Only a theatre's own thread may touch its run queue, its actors and its
** Lua state, so the hand-over is made by the busy theatre (the victim):
**   - a theatre about to sleep with nothing to do says it is hungry
**     (t->hungry = 1, node->nhungry + 1) and sleeps as before;
**   - a theatre with STEAL_MIN actors or more queued, or any after a
**     turn ran out its slice (the next waits a slice for each of its
**     messages), looks at node->nhungry before each actor it runs
**     (theatre.c: a relaxed load of a line written only when a theatre
**     falls asleep or wakes up);
**     if someone is hungry, it counts how long it has been busy, from
**     that first look, until it next runs dry (falls asleep);
**   - once that has lasted STEAL_BUSY_SECS of its CPU time, or at once
**     after a turn ran out its slice (t->sliced: long work; an actor in
**     a handler cannot go, so spread the others before they start theirs),
**     and it still has STEAL_MIN queued, it claims one hungry theatre
**     (an exchange of that one's flag: one victim serves it) and moves
**     there half of the actors of its queue that may go, the ones at the
**     back first (they would wait the longest), at most STEAL_BATCH, each
**     by core/move.c's move (its image: stage__move_steal), which keeps
**     every sender's order, for STEAL_GIVE_SECS at most (a move runs the
**     actor's departing hook and copies its state: the rest stay queued,
**     and a type one move of which took that long is not stolen again);
**     then it counts again from zero;
**   - all of them, not half, when a turn ran out its slice and a queued
**     actor that stays for its conversation here (ACTOR_TALKED, below)
**     has STEAL_DEEP messages or more queued (flooded): that receiver is
**     behind the senders beside it, the one whose handler ran out its
**     slice cannot go and goes on sending, and whatever starts here takes
**     CPU from the receiver, another sender most of all (it floods it
**     too, and once in its handler cannot go either). The receiver alone
**     is work enough for this theatre. A fan-in spawned in one burst
**     (4 senders, 2 theatres) so keeps one sender beside its receiver,
**     not two. The length of a mailbox is known only by walking it: at
**     most STEAL_DEEP entries of each talked-to actor, STEAL_WALK in all,
**     at such a hand-over only (one a slice at most).
** May go: a mobile actor born in this theatre that never moved
** (ACTOR_MOVED: once moved it stays where it is, so an actor is stolen at
** most once and never bounces), has a message queued, is not in or
** suspended in a turn, not in a move (ACTOR_MOVING, ACTOR_LEAVING while
** its image travels, a hub at home: stage__move_steal refuses it), not
** placed by spawn_at (ACTOR_PLACED), whose
** state travelled before or was never tried (ACTOR_NOSTEAL once refused),
** and that no actor of this theatre has sent more than one message to
** since the last look (ACTOR_TALKED, after ACTOR_SPOKEN, set by
** stage__route's local path, cleared here; one message, the order that
** starts a fan-in's sender, say, is no conversation): an
** actor in a conversation on its theatre (the receiver of a fan-in, a
** parent gathering its children's answers) stays with it, where its
** messages cost least; if it went, each of them would take two inbox
** hops, through this theatre's own inbox to its hub, instead of none.
** Unless its messages are heavy (ACTOR_HEAVY): each took STEAL_HEAVY_SECS
** or more, and STEAL_HEAVY_RATIO times the light messages of its theatre
** (the least a message took there lately: well under a microsecond in a
** release build, against which a hop costs a few times as much; a build
** for the sanitizers runs everything several times slower, hops as
** well), the last two times its turns were timed. Then the work is worth
** spreading, and staying would keep the other theatres idle: a caller
** that awaits each answer of its own callee is suspended, and cannot go
** itself, so eight such pairs would run on one theatre of two. A turn is
** timed (theatre.c, two reads of the wall clock) only when this theatre
** looks for actors to give, one such turn in 8, and it takes two long
** ones in a row: the system preempting this thread in one short turn
** does not make an actor heavy. Such a conversation runs in phases (the
** callers queued while the callees work, then the other way round): once
** an actor was found heavy, a look that finds nothing to give comes again
** STEAL_PROBE_SECS later, not STEAL_RETRY_SECS, so that it does not fall
** in the callers' phase every time.
** Pinned and creatable actors (main among them) never go.
**
** Why so conservative: a message between theatres costs several times one
** inside a theatre, and a stolen actor's messages take one more hop
** through its birth theatre (core/move.h). A ring or a pipeline spawned in
** one loop has STEAL_MIN queued only while its actors are born, well
** under STEAL_BUSY_SECS, and passing a token leaves one actor queued, so
** it stays together; a parallel map or a growing tree keeps a backlog for
** longer, and spreads.
**
** A theatre stuck in one long C call cannot give: its thread is in that
** call, and its actors' state (the Lua state of the theatre) cannot be
** read by another thread while it runs. docs/architecture.md, "Work
** stealing".
** Threads: each function on the theatre given, as said.
*/
#include <time.h>

#include "core/move.h"
#include "core/node.h"
#include "core/theatre.h"
#include "node_internal.h"

#define STEAL_BATCH 256        /* actors moved per hand-over at most */
#define STEAL_BUSY_SECS 10e-3  /* a backlog this long (CPU time): give */
#define STEAL_PROBE_SECS 5e-4  /* wall time between reads of the CPU clock */
#define STEAL_RETRY_SECS 5e-3  /* nothing could go: look again after this */
#define STEAL_GIVE_SECS 2e-3   /* a hand-over's CPU time; then the rest stay */
#define STEAL_HEAVY_SECS 10e-6 /* a message this long: heavy (wall time) */
#define STEAL_HEAVY_RATIO 16   /* and this many times a light one's */
#define STEAL_LIGHT_DRIFT 256  /* the light estimate's climb per turn: 1/N */
#define STEAL_DEEP 512  /* messages queued: a receiver behind its senders */
#define STEAL_WALK 4096 /* mailbox entries read per hand-over at most */

/* The CPU time of the calling thread, in seconds. */
static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Relaxed on nhungry and hungry throughout: they are hints, read to decide
** whether to give, and nothing else is published through them. The actors
** given reach the hungry theatre through its inbox (a release push), and a
** stale read only delays a hand-over by one look, or makes one that finds
** the hungry theatre busy again: it runs the actors all the same. */

/* Mark t hungry. Any thread. */
static void hungry_on(stage__theatre_t *t) {
    /* the exchanges on hungry decide who counts it in nhungry: whoever
    ** turns it from 0 to 1 adds, whoever turns it from 1 to 0 takes away */
    if (!atomic_exchange_explicit(&t->hungry, 1, memory_order_relaxed))
        atomic_fetch_add_explicit(&t->node->nhungry, 1, memory_order_relaxed);
}

void stage__steal_ask(stage__theatre_t *t) {
    t->backlog_since = 0; /* it ran dry */
    t->sliced = false;
    if (t->node->ntheatres > 1) hungry_on(t);
}

void stage__steal_fed(stage__theatre_t *t) {
    if (atomic_load_explicit(&t->hungry, memory_order_relaxed) &&
        atomic_exchange_explicit(&t->hungry, 0, memory_order_relaxed))
        atomic_fetch_sub_explicit(&t->node->nhungry, 1, memory_order_relaxed);
}

/* Claim a hungry theatre other than t (not stuck), or NULL. */
static stage__theatre_t *claim(stage__theatre_t *t) {
    stage_node_t *n = t->node;
    for (int k = 1; k < n->ntheatres; k++) {
        stage__theatre_t *h = n->theatres[(t->index + k) % n->ntheatres];
        if (!atomic_load_explicit(&h->hungry, memory_order_relaxed) ||
            atomic_load_explicit(&h->stuck, memory_order_relaxed))
            continue;
        if (atomic_exchange_explicit(&h->hungry, 0, memory_order_relaxed)) {
            atomic_fetch_sub_explicit(&n->nhungry, 1, memory_order_relaxed);
            return h;
        }
    }
    return NULL;
}

/* 1 if a can never be stolen, whatever it does later. */
static int never_goes(const stage__actor_t *a) {
    return a->type->kind != STAGE_KIND_MOBILE || !a->type->impl->state_export ||
           atomic_load_explicit(&a->type->slow_to_steal,
                                memory_order_relaxed) ||
           (a->flags & (ACTOR_MOVED | ACTOR_PLACED | ACTOR_NOSTEAL));
}

/* 1 if queued actor a of t may be given away now (see the top). */
static int may_go(const stage__theatre_t *t, const stage__actor_t *a) {
    return !never_goes(a) && a->mbox_head &&
           !(a->flags & (ACTOR_SUSPENDED | ACTOR_STOPPING | ACTOR_DEAD |
                         ACTOR_RESTART | ACTOR_MOVING | ACTOR_LEAVING)) &&
           (a->flags & (ACTOR_TALKED | ACTOR_HEAVY)) != ACTOR_TALKED &&
           stage__serial_theatre(a->serial) == t->index;
}

void stage__steal_weigh(stage__theatre_t *t, stage__actor_t *a, double secs,
                        uint64_t turns) {
    double each = secs / (double)turns;
    bool heavy = t->light > 0 && each >= STEAL_HEAVY_SECS &&
                 each >= STEAL_HEAVY_RATIO * t->light;
    /* the light messages here: the least seen, drifting up slowly with
    ** the light ones that follow, so that it follows the machine (a
    ** preemption makes one seem longer); heavy ones do not pull it up,
    ** or a theatre of heavy conversations would soon find none heavy */
    if (t->light <= 0 || each < t->light)
        t->light = each;
    else if (!heavy)
        t->light += (each - t->light) / STEAL_LIGHT_DRIFT;
    if (heavy) {
        if (a->flags & ACTOR_LONG) t->heavy_at = stage__now();
        a->flags |= ACTOR_LONG | (a->flags & ACTOR_LONG) << 1;
    } else {
        a->flags &= ~(ACTOR_LONG | ACTOR_HEAVY);
    }
}

/* 1 once t has been busy for STEAL_BUSY_SECS of CPU time since it first
** saw someone hungry, or a turn ran out its slice, and is not waiting to
** look again. The CPU clock is a system call: read at most once in
** STEAL_PROBE_SECS of the wall's (a vDSO read), so a theatre of short
** turns pays little for its looks and one of long turns sees the time go
** by at once. */
static int due(stage__theatre_t *t) {
    double wall = stage__now();
    bool sliced = t->sliced;
    t->sliced = false;
    if (!t->backlog_since) {
        t->backlog_since = thread_cpu();
        t->probe_at = wall;
        return sliced && t->backlog_since >= t->give_after;
    }
    if (!sliced && wall - t->probe_at < STEAL_PROBE_SECS) return 0;
    t->probe_at = wall;
    double now = thread_cpu();
    return now >= t->give_after &&
           (sliced || now - t->backlog_since >= STEAL_BUSY_SECS);
}

/* 1 if a has STEAL_DEEP messages queued or more. Reads at most *walk of
** them (a mailbox is a list: its length is known only by walking it), and
** takes what it read off *walk. */
static int deep(const stage__actor_t *a, int *walk) {
    int k = 0;
    for (const stage__env_t *e = a->mbox_head; e && *walk > 0; e = e->next) {
        --*walk;
        if (++k == STEAL_DEEP) return 1;
    }
    return 0;
}

/* 1 if an actor queued on t that actors of t talk to (ACTOR_TALKED: it
** stays) has a deep backlog: a receiver behind the senders beside it.
** STEAL_WALK mailbox entries read in all at most, so a queue of many
** talked-to actors costs no more than one deep one. */
static int flooded(const stage__theatre_t *t) {
    int walk = STEAL_WALK;
    for (const stage__actor_t *a = t->run_head; a && walk > 0; a = a->run_next)
        if ((a->flags & ACTOR_TALKED) && deep(a, &walk)) return 1;
    return 0;
}

/* The actor a is coupled with (place.c: a pair spawned together), or
** NULL: none, or it is gone. */
static stage__actor_t *partner(stage__theatre_t *t, const stage__actor_t *a) {
    if (a->flags & ACTOR_PAIR_PREV)
        return stage__actor_find(t, a->serial - STAGE__SERIAL_STEP);
    if (a->flags & ACTOR_PAIR_NEXT)
        return stage__actor_find(t, a->serial + STAGE__SERIAL_STEP);
    return NULL;
}

/* A pair goes together or not at all: picked actor a takes its partner
** along if that one may go too (within max picked in all: *n), else
** stays, unless its messages are heavy (then the hop costs little beside
** them, and a callee whose caller is suspended in an await could never
** go), or its partner can never go (pinned, placed, its state cannot
** travel: a worker spawned with a pinned service is not held by it). */
static void couple(stage__theatre_t *t, stage__actor_t *a, int *n, int max) {
    stage__actor_t *b = partner(t, a);
    if (!b || (b->flags & ACTOR_PICKED) || never_goes(b)) return;
    if ((b->flags & ACTOR_QUEUED) && may_go(t, b) && *n < max) {
        b->flags |= ACTOR_PICKED;
        ++*n;
    } else if (!(a->flags & ACTOR_HEAVY)) {
        a->flags &= ~ACTOR_PICKED;
        --*n;
    }
}

/* 1 if b is a's partner (couple). */
static int partners(const stage__actor_t *a, const stage__actor_t *b) {
    return ((a->flags & ACTOR_PAIR_NEXT) &&
            b->serial == a->serial + STAGE__SERIAL_STEP) ||
           ((a->flags & ACTOR_PAIR_PREV) &&
            b->serial == a->serial - STAGE__SERIAL_STEP);
}

/* Put the two actors of each pair in out[0..k) next to each other, so
** that a hand-over cut short by its time splits none. */
static void pairs_adjacent(stage__actor_t **out, int k) {
    for (int i = 0; i + 1 < k; i++) {
        if (!(out[i]->flags & (ACTOR_PAIR_PREV | ACTOR_PAIR_NEXT))) continue;
        for (int j = i + 1; j < k; j++) {
            if (!partners(out[i], out[j])) continue;
            stage__actor_t *b = out[j];
            out[j] = out[i + 1];
            out[++i] = b;
            break;
        }
    }
}

/* Take the actors that may go out of t's run queue, keeping the others in
** order; the last ones (half of those that may go, rounded up, or all of
** them after a slice ran out beside a flooded receiver; at most
** STEAL_BATCH; a pair cut by that line either both or neither) into out.
** *last, the pass's last actor, is moved to the new tail if it is taken.
** Returns how many. */
static int pick(stage__theatre_t *t, bool sliced, stage__actor_t **out,
                stage__actor_t **last) {
    int can = 0;
    for (stage__actor_t *a = t->run_head; a; a = a->run_next)
        can += may_go(t, a);
    int want = (can + 1) / 2;
    if (sliced && want < can && flooded(t)) want = can;
    if (want > STEAL_BATCH) want = STEAL_BATCH;
    int skip = can - want, n = 0;
    for (stage__actor_t *a = t->run_head; a; a = a->run_next)
        if (may_go(t, a) && skip-- <= 0) a->flags |= ACTOR_PICKED, n++;
    for (stage__actor_t *a = t->run_head; a; a = a->run_next)
        if ((a->flags & ACTOR_PICKED) &&
            (a->flags & (ACTOR_PAIR_PREV | ACTOR_PAIR_NEXT)))
            couple(t, a, &n, STEAL_BATCH);
    int k = 0;
    stage__actor_t *head = NULL, *tail = NULL, *next;
    for (stage__actor_t *a = t->run_head; a; a = next) {
        next = a->run_next;
        if (a->flags & ACTOR_PICKED) {
            a->flags &= ~(ACTOR_QUEUED | ACTOR_PICKED);
            t->nrun--;
            out[k++] = a;
            continue;
        }
        a->flags &= ~(ACTOR_SPOKEN | ACTOR_TALKED); /* until the next look */
        a->run_next = NULL;
        if (tail)
            tail->run_next = a;
        else
            head = a;
        tail = a;
    }
    t->run_head = head;
    t->run_tail = tail;
    if (*last && !((*last)->flags & ACTOR_QUEUED)) *last = tail;
    return k;
}

void stage__steal_give(stage__theatre_t *t, stage__actor_t **last) {
    bool sliced = t->sliced; /* due() clears it */
    if (!due(t)) return;
    stage__theatre_t *to = claim(t);
    if (!to) return;
    stage__actor_t *out[STEAL_BATCH];
    int k = pick(t, sliced, out, last);
    /* A move runs the actor's departing hook, user code, and copies its
    ** state, here on the busy theatre: past STEAL_GIVE_SECS of its CPU
    ** time (256 small actors take well under it; the wall clock would
    ** count a preemption too) the rest stay queued, and a type one move
    ** of which took that long alone is not stolen again: slow hooks and
    ** large states cost this theatre one move, not a batch. */
    pairs_adjacent(out, k);
    double start = thread_cpu(), now = start;
    bool owed = false; /* out[i] is the partner of the one just moved */
    int i = 0;
    for (; i < k && (i == 0 || owed || now - start < STEAL_GIVE_SECS); i++) {
        stage__type_t *ty = out[i]->type;
        double before = now;
        owed = i + 1 < k && partners(out[i], out[i + 1]); /* before it goes */
        stage__move_steal(t, out[i], to->index);
        now = thread_cpu();
        if (now - before >= STEAL_GIVE_SECS)
            atomic_store_explicit(&ty->slow_to_steal, true,
                                  memory_order_relaxed);
    }
    for (; i < k; i++)
        stage__actor_schedule(t, out[i]);
    if (k > 0) {
        t->backlog_since = 0;
        return;
    }
    /* nothing here may go: leave it hungry for another (it may have woken
    ** meanwhile: it takes the flag back at its next wake-up), and do not
    ** walk this queue again for a while. Unless an actor here was found
    ** heavy lately: it is not queued now (a conversation runs in phases,
    ** the callers queued while the callees wait, then the other way
    ** round), and may be at the next look, a probe's time from now. Not
    ** for a long queue: the look walks it */
    hungry_on(to);
    if (t->nrun <= STEAL_BATCH &&
        stage__now() - t->heavy_at < STEAL_BUSY_SECS) {
        t->give_after = thread_cpu() + STEAL_PROBE_SECS;
        return;
    }
    t->backlog_since = 0;
    t->give_after = thread_cpu() + STEAL_RETRY_SECS;
}
