/*
** tests/fault/fault_script.c: a whole script's run with the Nth allocation
** failing, for every N the run makes (or a stride and a seeded sample when
** it makes too many: see fault_plan). The run is what an embedding program
** does: stage_node_new, stage_node_load_script (sweep.lua, given as the
** first argument), stage_node_run_main, stage_node_run, stage_node_destroy.
**
** For every N: no crash, no leak (the allocator's live blocks are what
** they were before the run; ASan checks the rest), no hang (20 s, then
** the process exits naming N), and either sweep.lua printed "ok" with
** exit status 0 (the failure was absorbed) or the run ended with an error
** that says memory ran out (fault_common.h). STAGE_FAULT_N=n replays one
** N; STAGE_FAULT_SEED changes the sample; STAGE_FAULT_THEATRES=1 or 2
** runs one of the two sweeps; STAGE_FAULT_PERSISTENT=1 fails every
** allocation from the Nth on.
*/
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "fault_common.h"
#include "faultalloc.h"
#include "wire/mp.h"

static const char *script;
static char stdout_path[] = "/tmp/stage_fault_stdout_XXXXXX";

typedef struct outcome {
    int new_rc, load_rc, main_rc, status;
    char err[512];
    bool ok_printed;
    uint64_t counted, failed;
    long leaked;
    double secs; /* how long the run took */
} outcome_t;

/* ---- a run that hangs ends the process, naming its N -------------------
 */

static char hang_msg[128], abort_msg[128];

static void on_alarm(int sig) {
    (void)sig;
    ssize_t w = write(2, hang_msg, strlen(hang_msg));
    (void)w;
    _exit(3);
}

/* An abort (Lua's panic, an assertion) names the run, then goes on. */
static void on_abort(int sig) {
    ssize_t w = write(2, abort_msg, strlen(abort_msg));
    (void)w;
    runlog_print(); /* not async-signal-safe; the process is ending */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void hang_guard(uint64_t n, int theatres) {
    snprintf(hang_msg, sizeof hang_msg,
             "fault_script: the run with allocation %llu failed (%d "
             "theatres) hung for 20 s\n",
             (unsigned long long)n, theatres);
    snprintf(abort_msg, sizeof abort_msg,
             "fault_script: the run with allocation %llu failed (%d "
             "theatres) aborted\n",
             (unsigned long long)n, theatres);
    alarm(20);
}

/* ---- one run ------------------------------------------------------------
 */

/* What the script printed since the last call ("" if nothing): fd 1 is
** a file of our own. */
static void take_stdout(char *buf, size_t len) {
    fflush(stdout);
    ssize_t n = pread(1, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    if (ftruncate(1, 0) || lseek(1, 0, SEEK_SET) < 0) abort();
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run_once(uint64_t n, bool persistent, int theatres, outcome_t *o) {
    memset(o, 0, sizeof *o);
    o->secs = now();
    runlog_reset();
    stage__pack_cache_free();
    long live = fault_live();
    hang_guard(n, theatres);
    fault_arm(n, persistent);
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = theatres;
    stage_node_t *node = NULL;
    o->new_rc = stage_node_new(&node, &cfg);
    if (!o->new_rc) {
        o->load_rc =
            stage_node_load_script(node, script, o->err, sizeof o->err);
        if (!o->load_rc) {
            const char *argv[] = {"one", "two words"};
            o->main_rc = stage_node_run_main(node, 2, argv);
            if (!o->main_rc) o->status = stage_node_run(node);
        }
        stage_node_destroy(&node);
    }
    o->counted = fault_disarm();
    o->failed = fault_failed();
    alarm(0);
    stage__pack_cache_free(); /* this thread's, kept for its next writer */
    o->leaked = fault_live() - live;
    char out[256];
    take_stdout(out, sizeof out);
    o->ok_printed = !strcmp(out, "ok\n");
    o->secs = now() - o->secs;
}

static bool completed(const outcome_t *o) {
    return !o->new_rc && !o->load_rc && !o->main_rc && o->status == 0 &&
           o->ok_printed;
}

static bool ended_with_error(const outcome_t *o) {
    return o->new_rc || o->load_rc || o->main_rc || o->status != 0;
}

/* The verdict on a run; NULL if it passes, else what went wrong. */
static const char *judge(const outcome_t *o) {
    if (o->leaked) return "leaked memory";
    if (!o->failed)
        return completed(o) && !runlog.bad ? NULL
                                           : "failed with no allocation failed";
    if (completed(o)) return NULL; /* absorbed */
    if (!ended_with_error(o)) return "exit status 0 without printing ok";
    if (o->new_rc == STAGE_ENOMEM || o->load_rc == STAGE_ENOMEM ||
        o->main_rc == STAGE_ENOMEM || says_memory(o->err) ||
        runlog_says_memory())
        return NULL;
    return "ended with an error that does not say memory ran out";
}

static void report(uint64_t n, int theatres, const outcome_t *o,
                   const char *why) {
    fprintf(stderr,
            "fault_script: allocation %llu of the run failed (%d theatres): "
            "%s\n    node_new %d, load_script %d (%s), run_main %d, exit "
            "status %d, printed ok: %s, leaked %ld blocks\n",
            (unsigned long long)n, theatres, why, o->new_rc, o->load_rc, o->err,
            o->main_rc, o->status, o->ok_printed ? "yes" : "no", o->leaked);
    runlog_print();
}

/* Run the script once whole, then once per planned N. 0 if every run
** passed. */
static int sweep(int theatres, bool persistent) {
    outcome_t o;
    run_once(0, false, theatres, &o); /* warms the caches too */
    run_once(0, false, theatres, &o);
    const char *why = judge(&o);
    if (why) {
        report(0, theatres, &o, why);
        fprintf(stderr, "fault_script: the script fails without faults\n");
        return 1;
    }
    uint64_t total = o.counted, *plan;
    uint64_t only = env_u64("STAGE_FAULT_N", 0);
    uint64_t seed = env_u64("STAGE_FAULT_SEED", 1);
    size_t np = only ? 1 : fault_plan(total, 6000, 7, 400, seed, &plan);
    if (only) {
        plan = malloc(sizeof *plan);
        plan[0] = only;
    }
    fprintf(stderr,
            "fault_script: %d theatres, %s failures: %llu allocations a "
            "run, %zu runs (seed %llu)\n",
            theatres, persistent ? "persistent" : "transient",
            (unsigned long long)total, np, (unsigned long long)seed);
    int bad = 0, absorbed = 0;
    double slowest = 0;
    uint64_t slowest_n = 0;
    int max_bad = (int)env_u64("STAGE_FAULT_MAX_BAD", 5);
    for (size_t i = 0; i < np && bad < max_bad; i++) {
        run_once(plan[i], persistent, theatres, &o);
        why = judge(&o);
        if (why) {
            report(plan[i], theatres, &o, why);
            bad++;
        }
        absorbed += o.failed && completed(&o);
        if (o.secs > slowest) {
            slowest = o.secs;
            slowest_n = plan[i];
        }
    }
    fprintf(stderr,
            "fault_script: %d runs absorbed the failure, %zu ended with an "
            "error, %d went wrong; the slowest took %.0f ms (allocation "
            "%llu)\n",
            absorbed, np - (size_t)absorbed - (size_t)bad, bad, slowest * 1e3,
            (unsigned long long)slowest_n);
    free(plan);
    return bad != 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fault_script SCRIPT.lua\n");
        return 2;
    }
    script = argv[1];
    fault_install();
    stage_set_log(runlog_fn, &runlog);
    signal(SIGALRM, on_alarm);
    signal(SIGABRT, on_abort);
    /* The script's output goes to a file the runs read back. */
    int fd = mkstemp(stdout_path);
    if (fd < 0 || dup2(fd, 1) < 0) return 2;
    close(fd);
    unlink(stdout_path);
    int theatres = (int)env_u64("STAGE_FAULT_THEATRES", 0);
    bool persistent = env_u64("STAGE_FAULT_PERSISTENT", 0) != 0;
    int bad = 0;
    /* One theatre: the allocations come in the same order every run. Two:
    ** the paths between theatres, in whatever order the threads take. */
    for (int t = 1; t <= 2; t++)
        if (!theatres || theatres == t) bad |= sweep(t, persistent);
    return bad;
}
