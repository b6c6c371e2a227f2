/*
** lua/lstage.h: the Lua binding's internal interface.
**
** Lua is one kind of actor (core/kind.h, stage__lua_kind): its node data is
** a stage__lnode_t, its theatre data a stage__lw_t, its actor data a
** stage__lactor_t. Each theatre has one lua_State (its "world",
** stage__lw_t). Actors of Lua types keep their state in a table of that
** state; every message runs in a
** coroutine taken from a pool, so a handler can suspend (await, preemption)
** without blocking the theatre. All functions here run on the theatre's
** thread, except where noted.
*/
#ifndef STAGE_LUA_LSTAGE_H
#define STAGE_LUA_LSTAGE_H

#include <lauxlib.h>
#include <lua.h>

#include "core/actor.h"
#include "core/directory.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/kind.h"
#include "core/monitor.h"
#include "core/node.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "lvalue.h"

#define REF_MT "stage.ref"
#define FUTURE_MT "stage.future"
#define TIMER_MT "stage.timer"
#define ERROR_MT "stage.error"
#define CLASS_MT "stage.class"
#define MONITOR_MT "stage.monitor"

/* A load of code from the sources store (lcode.c). */
typedef struct stage__lload stage__lload_t;

/* The method name a type's actors last received in a theatre, kept as a
** Lua string (lactor.c: push_method). */
typedef struct stage__lmname {
    int ref; /* registry ref of the string; 0: none */
    uint8_t len;
    char name[23];
} stage__lmname_t;

/* Future userdata hold their core futures without a __gc (lfuture.c): the
** world's allocator sees a userdata's block freed, finds its hold by the
** slot the userdata keeps, and drops the future. */
typedef struct stage__lfhold {
    void *blk; /* the userdata's block, or NULL: a free slot */
    union {
        stage__future_t *f; /* held */
        uint32_t next;      /* free: the next free slot */
    } u;
} stage__lfhold_t;

typedef struct stage__lfholds {
    lua_Alloc alloc; /* the allocator below, and its ud */
    void *alloc_ud;
    size_t size, off; /* a future userdata's block: its size, its memory */
    void *probed;     /* the block of the userdata that measured them */
    stage__lfhold_t *slots;
    uint32_t nslots, free, held; /* made; first free (nslots: none); used */
    void *spare;  /* freed blocks of that size, linked through their start */
    int nspare;   /* signed: SPARE_MAX is 0 under the sanitizers */
    bool closing; /* lua_close has begun: free slots once none is held */
} stage__lfholds_t;

/* One theatre's Lua world. */
typedef struct stage__lw {
    lua_State *L;
    stage__theatre_t *t;
    stage_node_t *node;
    int classes;      /* registry ref: type name -> class table */
    lua_State **pool; /* idle coroutines */
    int *pool_refs;
    int npool, cappool;
    stage_pack_t scratch; /* encoding buffer */
    stage__lv_hooks_t hooks;
    volatile sig_atomic_t preempted; /* last yield: 1 preempted, 2 budget */
    lua_State *poisoned;   /* coroutine whose hooks an error switched off */
    lua_State *handler_co; /* the running handler's coroutine, or NULL */
    /* the envelope of the message the turn's coroutine runs, which its
    ** runner may move on from (lactor.c, runner_next) */
    stage__env_t *turn_env;
    /* the last turn ended with an actor on the run queue: the next message
    ** is likely to be followed by another, so its runner will pay */
    bool runner_pays;
    unsigned futures_made; /* see stage__lfuture_push */
    int *class_refs;       /* type index -> registry ref of its class */
    int nclass_refs;
    stage__lmname_t *mnames; /* type index -> its last method name */
    int nmnames;
    /* the Lua thread of the running turn (the handler's, or the innermost
    ** coroutine it resumed), or NULL: the preemption signal handler reads it
    ** on this theatre's thread */
    lua_State *volatile running;
    double resumed_at; /* when a preempted turn was resumed */
    int call_turn;     /* TURN_* of the Lua turn a core turn ran (lactor.c) */
    int ref_mt, future_mt;  /* registry refs of the metatables */
    const void *future_mtp; /* the same, as a pointer */
    int farref_mt;          /* far references: with a __gc */
    int refcache;           /* registry ref: serial -> reference (weak) */

    /* The heap's cap (--memory; SIZE_MAX: none), enforced while actor
    ** code runs (mem_enforce; mem_cap is mem_limit then, else SIZE_MAX):
    ** the runtime's own work around a turn, such as failing it, may pass
    ** it a little. mem_refused: the cap refused an allocation since the
    ** turn began. */
    size_t mem_used, mem_limit, mem_cap;
    int mem_enforce, mem_refused;

    /* a load of code from the sources store runs its top level here:
    ** stage.actor records its types in it (lcode.c); until when */
    stage__lload_t *live;
    double live_deadline;
    int live_clash; /* it defined a type this node has from other code */

    /* warn(): on after "@on"; the pieces of a warning so far */
    int warn_on, warn_cont;
    size_t warn_len;
    char warn[256];

    stage__lfholds_t futs; /* the futures that future userdata hold */
} stage__lw_t;

/* A script's text that came from the sources store: its types' source
** (lcode.c). */
typedef struct stage__lcode {
    struct stage__lcode *next;
    int used;                        /* a type points to text */
    char chunk[STAGE_TYPE_MAX + 20]; /* its chunk name: errors say it */
    size_t len;
    char text[];
} stage__lcode_t;

/* Node-wide Lua data. */
typedef struct stage__lnode {
    char *script; /* path of the loaded script, or NULL (none) */
    /* the script's text, as it was run: the source of its types in the
    ** sources store (NULL: no script) */
    char *text;
    size_t text_len;
    /* code loaded from the sources store since the start (lcode.c) */
    stage__lcode_t *codes;
    pthread_mutex_t codes_lock;
    int argc;
    char **argv;
    int has_main;
    atomic_int main_done; /* main returned or failed */
} stage__lnode_t;

/* A Lua actor's data (its kind's actor data). 0 is no ref: luaL_ref never
** returns it. */
typedef struct stage__lactor {
    int state_ref; /* its state table in the registry, once its birth came */
    /* methods of its own (stage.update_method): registry refs of a table
    ** name -> function, looked up before its class, and of their source
    ** texts (what travels when it moves); 0: none */
    int methods_ref, sources_ref;
    int co_ref; /* its suspended turn's coroutine */
    void *wait; /* what a suspended await waits for (lfuture.c) */
    /* next/catch continuations it set that have not run: they hold
    ** functions of this theatre, so it cannot move (limage.c) */
    uint32_t conts;
} stage__lactor_t;

static inline stage__lactor_t *stage__lactor(stage__actor_t *a) {
    return a->data;
}

/* The Lua kind: its hooks are in lactor.c and script.c. */
extern const stage__kind_t stage__lua_kind;

/* Theatre t's Lua world, or NULL. t's thread. */
static inline stage__lw_t *stage__lw_of(stage__theatre_t *t) {
    return stage__theatre_kind_data(t, &stage__lua_kind);
}

/* A reference userdata: a send's target (core/pipeline.h). type is the
** local type of that name, or NULL. A far reference from a lookup
** (find_name, ...) starts with pending set: the future of its id; sends
** through it wait for it. One from find_name holds the name (byname). */
typedef stage__target_t stage__lref_t;

/* A future userdata. */
typedef struct stage__lfut {
    stage__future_t *f;
    uint32_t slot; /* its hold in the world's futs */
} stage__lfut_t;

static inline stage__lw_t *stage__lw(lua_State *L) {
    return *(stage__lw_t **)lua_getextraspace(L);
}

/* The userdata at idx if its metatable is mt, else NULL. Cheaper than
** luaL_testudata, which looks the metatable up by name every time. */
static inline void *stage__lw_testud(lua_State *L, int idx, const void *mt) {
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
        return NULL;
    const void *m = lua_topointer(L, -1);
    lua_pop(L, 1);
    return m == mt ? lua_touserdata(L, idx) : NULL;
}

/* lua/lworld.c */
stage__lw_t *stage__lw_open(stage__theatre_t *t, char *err, size_t errlen);
void stage__lw_close(stage__lw_t *w);
/* The actor whose turn is running, or raise a Lua error. */
stage__actor_t *stage__lw_running(lua_State *L);

lua_State *stage__lw_take_co(stage__lw_t *w, int *ref);
void stage__lw_give_co(stage__lw_t *w, lua_State *co, int ref);

/* lua/lactor.c */
/* The Lua kind's deliver, resume and destroy (stage__kind_t). */
int stage__lactor_deliver(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e);
int stage__lactor_resume(stage__theatre_t *t, stage__actor_t *a);
void stage__lactor_destroy(stage__theatre_t *t, stage__actor_t *a);
int stage__lactor_define(lua_State *L); /* stage.actor(name, opts) */
int stage__lactor_open(lua_State *L);   /* pushes the class functions */
/* The Lua kind's preempt hook: async-signal-safe. */
void stage__lua_preempt(stage__theatre_t *t, void *tdata);
/* Give co the hook a Lua thread carries while no preemption is under way:
** none, or under ThreadSanitizer one that polls for the watchdog's request.
** Threads made from co inherit it. */
void stage__lua_hook_idle(lua_State *co);
/* A C function that may run long (lpattern.c's matcher) asks this every
** few thousand steps on its thread L: 0 go on; 1 the watchdog wants the
** turn preempted and L is the handler's coroutine and can yield: the
** caller yields at once (lua_yieldk, with a continuation), and the turn
** fails with BudgetExceeded if it is over its budget. Where L cannot
** yield, past the budget (or a death past the stop grace) it raises.
** L: a thread of a theatre's world, or of a state whose extra space holds
** NULL (no world: always 0). */
int stage__lua_preempt_point(lua_State *L);
/* Spawn a Lua actor for the class at idx with the n values at first.. as
** birth args; push its reference. */
int stage__lactor_spawn(lua_State *L, int theatre, int first, int n);
/* Push the text of the value at idx for an error message, as
** luaL_tolstring does, but "NaN" for a NaN (the C library writes "-nan"
** for 0/0). */
static inline const char *stage__lv_text(lua_State *L, int idx) {
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number x = lua_tonumber(L, idx);
        if (x != x) {
            lua_pushliteral(L, "NaN");
            return "NaN";
        }
    }
    return luaL_tolstring(L, idx, NULL);
}
/* Run the function on top of w->L (popped) with no arguments as a turn
** of actor a, from a turn core made (an ENV_CALL's call, such as an actor
** timer's turn): it may suspend like a handler; w->call_turn says how it
** went (TURN_*). */
void stage__lactor_call_turn(stage__lw_t *w, stage__actor_t *a);
/* The same with the function's nargs arguments above it on w->L. */
void stage__lactor_call_turn_args(stage__lw_t *w, stage__actor_t *a, int nargs);

/* Push the class of type ty in w's theatre: 0, or -1 (not defined here:
** nothing pushed). */
int stage__lactor_push_class(stage__lw_t *w, const stage__type_t *ty);
/* Run method name of a's class (if it has one) with a's state, as a turn
** of a that cannot await (departing, arrived): 0, or STAGE_EHANDLER with
** the error and its traceback in err. */
int stage__lactor_hook(stage__theatre_t *t, stage__actor_t *a, const char *name,
                       char *err, size_t errlen);

/* lua/limage.c: the Lua kind's hooks for images (core/image.h) */
int stage__limage_export(stage__theatre_t *t, stage__actor_t *a,
                         stage_pack_t *out, char *err, size_t errlen);
int stage__limage_import(stage__theatre_t *t, stage__actor_t *a,
                         const char *data, size_t len, char *err,
                         size_t errlen);
int stage__limage_departing(stage__theatre_t *t, stage__actor_t *a, char *err,
                            size_t errlen);
int stage__limage_arrived(stage__theatre_t *t, stage__actor_t *a, char *err,
                          size_t errlen);
void stage__limage_depart(stage__theatre_t *t, stage__actor_t *a);
/* What a userdata the encoder refused is (lvalue.h's what_userdata). */
const char *stage__limage_what(lua_State *L, int idx, void *ud);

/* lua/lref.c */
void stage__lref_open(lua_State *L);
/* Push a reference to id, shared through the theatre's cache. */
void stage__lref_push(lua_State *L, const stage_id_t *id);
/* ref:migrate(where): stage.migrate(ref, where) (lmodule.c). */
int stage__lref_migrate(lua_State *L);
/* Push a new reference to id (not cached: a freshly spawned actor). */
void stage__lref_new(lua_State *L, const stage_id_t *id);
stage__lref_t *stage__lref_test(lua_State *L, int idx);
/* Take a far reference's id if its lookup has finished: 0 (r->pending
** says whether it is still running), or the lookup's failure. */
int stage__lref_settle(lua_State *L, stage__lref_t *r);
/* Call method (any name, a reserved one too) on `to` with the n values
** from first on: pushes its future. */
int stage__lref_call(lua_State *L, stage__lref_t *to, const char *method,
                     int first, int n);
/* stage.send(ref, method, ...): one way, no future. */
int stage__lref_send_oneway(lua_State *L);
/* stage.stop(ref): push a future of true once the actor has taken the
** order (it stops after the messages sent to it before). */
int stage__lref_stop(lua_State *L, stage__lref_t *to);
/* Push a far reference whose id f will give (takes f's reference). */
void stage__lref_push_far(lua_State *L, stage__future_t *f);
int stage__lv_encode_ud(lua_State *L, int idx, stage_pack_t *p, void *ud);
void stage__lv_push_id(lua_State *L, const stage_id_t *id, void *ud);

/* lua/lfuture.c */
void stage__lfuture_open(lua_State *L);
/* Push a userdata for f, taking over the caller's reference. */
void stage__lfuture_push(lua_State *L, stage__future_t *f);
stage__lfut_t *stage__lfuture_test(lua_State *L, int idx);
/* Push f's value, or raise its failure as an error object. f done. */
int stage__lfuture_result(lua_State *L, stage__future_t *f);
/* 1 if the value at idx is an error object. */
int stage__lerror_is(lua_State *L, int idx);
/* Push an error object for a failed future (not raising). */
void stage__lerror_push(lua_State *L, const stage__future_t *f);
/* Raise an error object of status (STAGE_E*) with message, marked where
** it was raised. */
int stage__lerror_raise(lua_State *L, int status, const char *message);
/* Complete fut from the value at idx (a future there delegates). */
void stage__lfuture_complete(lua_State *L, int idx, stage__future_t *fut,
                             const stage_id_t *self);
/* Fail fut (or log, if NULL) with the Lua error value at idx, from actor
** self, with traceback tb (may be NULL). */
void stage__lfuture_fail(lua_State *L, int idx, stage__future_t *fut,
                         const stage_id_t *self, const char *tb);

/* f:await() with f at 1 and no timeout: a lua_CFunction body that may
** yield (call it last: return stage__lfuture_await(L)). */
int stage__lfuture_await(lua_State *L);

/* lua/llazy.c (lazy synchronisation) */
/* The metamethods that use a future's value, into the metatable at mt,
** and the global tostring that waits for a future's value. */
void stage__llazy_open(lua_State *L, int mt);
/* lua_CFunction: the value at 1 if it is no future, else the future's
** value, waiting for it (may yield: call it with lua_callk). */
int stage__lfuture_value(lua_State *L);
/* __eq with a future among the two operands (lref.c): compares values. */
int stage__lfuture_lazy_eq(lua_State *L);

/* Free a finished or abandoned await's state. */
void stage__lwait_free(stage__actor_t *a);
int stage__lfuture_join(lua_State *L); /* stage.join{...} */

/* lua/lmonitor.c: stage.monitor, stage.on_node_down, stage.on_node_up */
void stage__lmonitor_open(lua_State *L); /* the handles' metatable */
int stage__lmonitor_monitor(lua_State *L);
int stage__lmonitor_node_down(lua_State *L);
int stage__lmonitor_node_up(lua_State *L);

/* lua/lbounded.c: string.rep and table.move that cannot run for ever
** unstopped, into the string and table libraries (before they freeze). */
void stage__lbounded_open(lua_State *L);

/* lua/lsandbox.c */
/* Narrow the world's libraries to the sandbox's and freeze what its
** actors share (lsandbox.c's header says what). Raises on no memory. */
int stage__lsandbox_open(lua_State *L);
/* Note the thread at idx as a handler's: coroutine.resume and close
** refuse it. Raises on no memory. */
void stage__lsandbox_mark_handler(lua_State *L, int idx);

/* lua/lcode.c: code on demand */
/* The Lua kind's load_code (core/kind.h). */
int stage__lcode_load(stage_node_t *node, void *ndata, const char *what,
                      const char *src, size_t len, stage__code_done_fn done,
                      void *arg);
/* stage.actor in code being loaded (w->live): note type name, to be
** registered once every theatre ran the code. Raises on too many. */
int stage__lcode_define(lua_State *L, const char *name, stage_kind_t kind,
                        const char *super, stage_on_error_t on_error,
                        int max_restarts, double restart_window);
/* Run code that is no handler (a top level, an update's source) on L
** for at most the handler budget from now: past it, it raises. Unguard
** after (L gets its idle hook back). */
void stage__lcode_guard(lua_State *L);
void stage__lcode_unguard(lua_State *L);
/* Free what the node's loads kept (node_free). */
void stage__lcode_free_all(stage__lnode_t *ln);

/* lua/lupdate.c: live replacement of code */
int stage__lupdate_method(lua_State *L); /* stage.update_method */
int stage__lupdate_type(lua_State *L);   /* stage.update_type */
/* A STAGE__UPDATE_METHOD message for actor a: give it its own method. */
int stage__lupdate_deliver(stage__lw_t *w, stage__actor_t *a, stage__env_t *e);
/* Install the methods of their own the table at idx names (name ->
** source text) in actor a (an arrived actor's): 0, or raise. */
void stage__lupdate_install(lua_State *L, stage__actor_t *a, int idx);
/* Free a's methods of its own (its destroy, its departure). */
void stage__lupdate_drop(stage__lw_t *w, stage__actor_t *a);
/* The Lua kind's update_code (core/kind.h). */
int stage__lupdate_code(stage_node_t *node, void *ndata, const char *type,
                        const char *methods, size_t len,
                        stage__code_done_fn done, void *arg);

/* lua/lmodule.c */
int stage__lmodule_open(lua_State *L); /* luaopen for "stage" */

/* Begin and end a stretch of actor code in w (a turn or a slice of one,
** a hook, the script's top level): the heap cap holds in it. Nests. A
** turn's start clears mem_refused; a slice after a preemption keeps it
** (the refusal may be the next slice's news). */
static inline int stage__lw_enforce(stage__lw_t *w) {
    int prev = w->mem_enforce;
    w->mem_enforce = 1;
    w->mem_cap = w->mem_limit;
    return prev;
}
static inline void stage__lw_unenforce(stage__lw_t *w, int prev) {
    w->mem_enforce = prev;
    w->mem_cap = prev ? w->mem_limit : SIZE_MAX;
}
/* Push on L (w's state or a thread of it) a MemoryExceeded error object
** for actor code of w that the heap cap stopped; who names it. */
void stage__lw_push_memory_error(lua_State *L, stage__lw_t *w, const char *who);

/* Lua's allocator (lua_Alloc), through Stage's allocator hook: for every
** lua_State Stage makes. Any thread. */
void *stage__lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
