/*
** core/environ.c: the environment actors a node grants its actors besides
** Stdout (native.c), as SALSA's standardInput: Stdin, the process's
** standard input line by line, and Files, reads and writes under one
** directory (stage_node_config_t.files_dir, `--files DIR`).
**
** Neither blocks a theatre. Both are native pinned actors of theatre 0
** whose handlers only queue work for the environment thread; that thread
** owns fd 0 (it reads it once an actor has subscribed, never before: a
** node in the background of a shell is not stopped for reading its
** terminal) and runs the file operations one at a time, completing each
** call's promise itself. Lines go through a bounded queue (reading pauses
** while it is full) that the Stdin actor drains when the thread pokes it
** with a message "_input".
**
** A subscription holds the node (stage_node_hold) until the end of the
** input; a file call holds it until its answer. Paths are relative to the
** directory, walked a component at a time with O_NOFOLLOW: no '..', no
** absolute path, no symbolic link, so nothing outside can be reached.
**
** Threads: the handlers run on theatre 0; env_main on the environment
** thread, started by the first subscription or file call; the node's
** destroy joins it (stage__environ_close).
*/
#define _GNU_SOURCE /* O_PATH, dirfd */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/actor.h"
#include "native.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

#define STDIN_TYPE "stage.Stdin"
#define FILES_TYPE "stage.Files"
#define LINES_MAX 256        /* queued lines before reading pauses */
#define LINE_MAX_BYTES 65536 /* a longer line comes in pieces */
#define PATH_MAX_BYTES 1024  /* a file actor's path */
#define METHOD_MAX 64        /* a subscriber's method name */

enum { OP_READ, OP_WRITE, OP_APPEND, OP_LIST, OP_EXISTS };
static const char *const op_verbs[] = {"read", "write", "append to", "list",
                                       "look for"};

/* A file call, queued for the environment thread. */
typedef struct job {
    struct job *next;
    int op;
    char *path; /* checked: relative, no '..' */
    char *data; /* write, append */
    size_t len;
    stage_future_t *f; /* the caller's answer */
} job_t;

/* A line of input (eof: the end, text the reason if it is an error). */
typedef struct line {
    struct line *next;
    bool eof;
    size_t len;
    char text[];
} line_t;

typedef struct sub {
    stage_id_t id;
    char method[METHOD_MAX];
} sub_t;

struct stage__environ {
    stage_node_t *node;
    stage_id_t stdin_id, files_id;
    bool has_files;
    int rootfd; /* the files directory, or -1 */
    size_t max_read;
    pthread_mutex_t lock; /* the fields below, to the subscribers */
    pthread_t thread;
    bool started, stopping;
    int wake[2]; /* a byte in wake[1] wakes the thread's poll */
    job_t *jobs, **jobs_tail;
    bool want_stdin; /* someone subscribed: read fd 0 */
    bool stdin_done; /* the thread saw its end */
    line_t *lines, **lines_tail;
    int nlines;
    bool poked; /* an _input message is on its way */
    /* the Stdin actor's (theatre 0 only) */
    sub_t *subs;
    int nsubs, capsubs;
    bool held;  /* the node is held for the subscribers */
    bool ended; /* the end of the input went to the subscribers */
};

static stage__environ_t *env_of(stage_ctx_t *ctx) {
    return stage_ctx_node(ctx)->environ;
}

/* Wake the environment thread. Any thread. */
static void wake(stage__environ_t *v) {
    char c = 1;
    ssize_t n = write(v->wake[1], &c, 1); /* full pipe: it wakes anyway */
    (void)n;
}

static void *env_main(void *arg);

/* Start the environment thread if it is not running: 0 or STAGE_ENOMEM.
** Under v->lock. */
static int start_locked(stage__environ_t *v) {
    if (v->started) return 0;
    if (pthread_create(&v->thread, NULL, env_main, v)) return STAGE_ENOMEM;
    v->started = true;
    return 0;
}

/* ---- the Stdin actor ------------------------------------------------------
 */

/* Send line (NULL: the end of the input) to subscriber s. */
static void send_line(stage_ctx_t *ctx, const sub_t *s, const line_t *l) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    if (l && !l->eof)
        stage_pack_str(&p, l->text, l->len);
    else
        stage_pack_nil(&p);
    if (!stage_pack_error(&p))
        stage_send(ctx, &s->id, s->method, p.data, p.len, NULL);
    else
        LOG_ERROR("stdin: out of memory: a line is lost");
    stage_pack_free(&p);
}

/* The input ended: tell the subscribers, and let the node stop. */
static void end_input(stage_ctx_t *ctx, stage__environ_t *v, const line_t *l) {
    if (l && l->len) LOG_WARN("stdin: %.*s", (int)l->len, l->text);
    for (int i = 0; i < v->nsubs; i++)
        send_line(ctx, &v->subs[i], NULL);
    v->ended = true;
    if (v->held) stage_node_release(v->node);
    v->held = false;
}

/* _input(): the thread queued lines; pass them on. */
static void stdin_input(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage__environ_t *v = env_of(ctx);
    pthread_mutex_lock(&v->lock);
    line_t *l = v->lines;
    bool was_full = v->nlines >= LINES_MAX;
    v->lines = NULL;
    v->lines_tail = &v->lines;
    v->nlines = 0;
    v->poked = false;
    pthread_mutex_unlock(&v->lock);
    if (was_full) wake(v);
    while (l) {
        line_t *next = l->next;
        if (l->eof && !v->ended)
            end_input(ctx, v, l);
        else if (!v->ended)
            for (int i = 0; i < v->nsubs; i++)
                send_line(ctx, &v->subs[i], l);
        stage__free(l);
        l = next;
    }
}

/* subscribe(ref [, method]): lines go to ref as method(line) ("line" by
** default), the end of the input as method(nil). */
static void stdin_subscribe(stage_ctx_t *ctx, void *state,
                            const stage_msg_t *m) {
    (void)state;
    stage__environ_t *v = env_of(ctx);
    stage_unpack_t u;
    uint32_t n = 0;
    sub_t s = {.method = "line"};
    const char *meth = NULL;
    size_t mlen = 0;
    if (stage_msg_unpack(m, &u, &n) || n < 1 || n > 2 ||
        stage_unpack_id(&u, &s.id) ||
        (n == 2 && (stage_unpack_str(&u, &meth, &mlen) || mlen == 0 ||
                    mlen >= METHOD_MAX || memchr(meth, 0, mlen)))) {
        stage_reply_error(ctx, m, STAGE_EINVAL,
                          "stdin: subscribe takes a reference and, if "
                          "given, a method name of 1 to 63 bytes");
        return;
    }
    if (meth) {
        memcpy(s.method, meth, mlen);
        s.method[mlen] = '\0';
    }
    if (v->nsubs == v->capsubs) {
        int cap = v->capsubs ? 2 * v->capsubs : 4;
        sub_t *p = stage__realloc(v->subs, (size_t)cap * sizeof *p);
        if (!p) {
            stage_reply_error(ctx, m, STAGE_ENOMEM, NULL);
            return;
        }
        v->subs = p;
        v->capsubs = cap;
    }
    if (v->ended) { /* it has ended already: say so at once */
        send_line(ctx, &s, NULL);
        stage_reply(ctx, m, "\xc3", 1);
        return;
    }
    pthread_mutex_lock(&v->lock);
    int rc = start_locked(v);
    if (!rc) v->want_stdin = true;
    pthread_mutex_unlock(&v->lock);
    if (rc) {
        stage_reply_error(ctx, m, rc, "stdin: cannot start its thread");
        return;
    }
    v->subs[v->nsubs++] = s;
    if (!v->held) stage_node_hold(v->node);
    v->held = true;
    wake(v);
    stage_reply(ctx, m, "\xc3", 1); /* true */
}

/* unsubscribe(ref): no more lines to ref; true if it was subscribed. */
static void stdin_unsubscribe(stage_ctx_t *ctx, void *state,
                              const stage_msg_t *m) {
    (void)state;
    stage__environ_t *v = env_of(ctx);
    stage_unpack_t u;
    uint32_t n = 0;
    stage_id_t id;
    if (stage_msg_unpack(m, &u, &n) || n != 1 || stage_unpack_id(&u, &id)) {
        stage_reply_error(ctx, m, STAGE_EINVAL,
                          "stdin: unsubscribe takes a reference");
        return;
    }
    bool found = false;
    for (int i = 0; i < v->nsubs; i++) {
        if (!stage_id_equal(&v->subs[i].id, &id)) continue;
        v->subs[i--] = v->subs[--v->nsubs];
        found = true;
    }
    if (!v->nsubs && v->held) { /* nobody listens: the node may stop */
        stage_node_release(v->node);
        v->held = false;
    }
    stage_reply(ctx, m, found ? "\xc3" : "\xc2", 1);
}

static const stage_method_t stdin_methods[] = {
    {"subscribe", stdin_subscribe},
    {"unsubscribe", stdin_unsubscribe},
    {"_input", stdin_input},
    {NULL, NULL}};

static const stage_type_def_t stdin_def = {
    .name = STDIN_TYPE,
    .kind = STAGE_KIND_PINNED,
    .methods = stdin_methods,
    .on_error = STAGE_ON_ERROR_KEEP}; /* its handlers do not fail */

/* ---- the Files actor ------------------------------------------------------
 */

/* 0 if path (len bytes) is one the file actor takes: relative, 1 to
** PATH_MAX_BYTES - 1 bytes, no NUL, no empty, '.' or '..' component (an
** empty path, with empty_ok, is the directory itself); else the reason in
** why. */
static int check_path(const char *path, size_t len, bool empty_ok, char *why,
                      size_t whylen) {
    const char *bad = NULL;
    if (!len && empty_ok) return 0;
    if (!len || len >= PATH_MAX_BYTES || memchr(path, 0, len))
        bad = "give 1 to 1023 bytes, without NUL";
    else if (path[0] == '/')
        bad = "give a path relative to the files directory";
    for (size_t i = 0; !bad && i <= len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t n = j - i;
        if (!n)
            bad = "it has an empty component ('//' or a '/' at the end)";
        else if ((n == 1 && path[i] == '.') ||
                 (n == 2 && path[i] == '.' && path[i + 1] == '.'))
            bad = "'.' and '..' are not allowed: the file actor reaches "
                  "only what is under its directory";
        i = j + 1;
    }
    if (!bad) return 0;
    snprintf(why, whylen, "files: path '%.*s' refused: %s",
             (int)(len > 200 ? 200 : len), path, bad);
    return STAGE_EINVAL;
}

/* Queue a call of op on the path (and data) of message m; its answer
** comes from the environment thread. */
static void files_call(stage_ctx_t *ctx, const stage_msg_t *m, int op) {
    stage__environ_t *v = env_of(ctx);
    stage_unpack_t u;
    uint32_t n = 0;
    const char *path = "", *data = NULL;
    size_t plen = 0, dlen = 0;
    bool writes = op == OP_WRITE || op == OP_APPEND;
    uint32_t want = writes ? 2 : 1;
    char why[320];
    int bad = stage_msg_unpack(m, &u, &n);
    if (!bad && op == OP_LIST && n == 0) { /* list(): the directory */
    } else if (bad || n != want || stage_unpack_str(&u, &path, &plen) ||
               (writes && stage_unpack_str(&u, &data, &dlen) &&
                stage_unpack_bin(&u, &data, &dlen))) {
        snprintf(why, sizeof why, "files: %s takes %s", stage_msg_method(m),
                 writes          ? "a path and a string"
                 : op == OP_LIST ? "a path, or none for the directory"
                                 : "a path");
        stage_reply_error(ctx, m, STAGE_EINVAL, why);
        return;
    }
    if (check_path(path, plen, op == OP_LIST, why, sizeof why)) {
        stage_reply_error(ctx, m, STAGE_EINVAL, why);
        return;
    }
    job_t *j = stage__calloc(1, sizeof *j);
    stage_future_t *f = NULL;
    if (!j || !(j->path = stage__malloc(plen + 1)) ||
        (dlen && !(j->data = stage__malloc(dlen))) ||
        stage_future_new(v->node, &f) || stage_reply_future(ctx, m, f)) {
        if (j) stage__free(j->path), stage__free(j->data);
        stage__free(j);
        if (f) stage_future_reject(f, STAGE_ENOMEM, NULL);
        stage_future_release(&f);
        stage_reply_error(ctx, m, STAGE_ENOMEM, NULL);
        return;
    }
    memcpy(j->path, path, plen);
    j->path[plen] = '\0';
    if (dlen) memcpy(j->data, data, dlen);
    j->len = dlen;
    j->op = op;
    j->f = f;
    pthread_mutex_lock(&v->lock);
    int rc = start_locked(v);
    if (!rc) {
        *v->jobs_tail = j;
        v->jobs_tail = &j->next;
    }
    pthread_mutex_unlock(&v->lock);
    if (rc) {
        stage_future_reject(f, rc, "files: cannot start its thread");
        stage_future_release(&j->f);
        stage__free(j->path), stage__free(j->data), stage__free(j);
        return;
    }
    stage_node_hold(v->node); /* until the answer (run_job) */
    wake(v);
}

#define FILES_METHOD(name, op)                                                 \
    static void files_##name(stage_ctx_t *ctx, void *state,                    \
                             const stage_msg_t *m) {                           \
        (void)state;                                                           \
        files_call(ctx, m, op);                                                \
    }
FILES_METHOD(read, OP_READ)
FILES_METHOD(write, OP_WRITE)
FILES_METHOD(append, OP_APPEND)
FILES_METHOD(list, OP_LIST)
FILES_METHOD(exists, OP_EXISTS)

static const stage_method_t files_methods[] = {
    {"read", files_read}, {"write", files_write},   {"append", files_append},
    {"list", files_list}, {"exists", files_exists}, {NULL, NULL}};

static const stage_type_def_t files_def = {
    .name = FILES_TYPE,
    .kind = STAGE_KIND_PINNED,
    .methods = files_methods,
    .on_error = STAGE_ON_ERROR_KEEP}; /* its handlers do not fail */

/* ---- file operations (the environment thread) -----------------------------
 */

/* Fail j with errno e: "cannot read 'a/b': no such file or directory". */
static void fail_errno(job_t *j, int e) {
    char msg[PATH_MAX_BYTES + 200];
    const char *reason =
        e == ELOOP   ? "it is a symbolic link, and the file actor follows none"
        : e == ENXIO ? "it is not a regular file (a FIFO, a socket or a "
                       "device), and the file actor reads and writes only "
                       "those"
                     : strerror(e);
    int n = snprintf(msg, sizeof msg,
                     "files: cannot %s '%s': ", op_verbs[j->op], j->path);
    snprintf(msg + n, sizeof msg - (size_t)n, "%s", reason);
    msg[n] = (char)tolower((unsigned char)msg[n]);
    stage_future_reject(j->f, STAGE_EIO, msg);
}

/* errno e of an open of name in dir with O_NOFOLLOW, made ELOOP if name
** is a symbolic link (with O_DIRECTORY, Linux says ENOTDIR). */
static int link_errno(int dir, const char *name, int e) {
    struct stat st;
    if (e == ENOTDIR && !fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) &&
        S_ISLNK(st.st_mode))
        return ELOOP;
    return e;
}

/* The directory that holds the last component of path, walked from root
** a component at a time without following links: its fd (root itself for
** a path of one component: do not close it), and *last; -1 and errno. */
static int walk(int root, char *path, char **last) {
    int dir = root;
    char *p = path, *slash;
    while ((slash = strchr(p, '/'))) {
        *slash = '\0';
        int fd =
            openat(dir, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = fd < 0 ? link_errno(dir, p, errno) : 0;
        *slash = '/';
        if (dir != root) close(dir);
        if (fd < 0) {
            errno = e;
            return -1;
        }
        dir = fd;
        p = slash + 1;
    }
    *last = p;
    return dir;
}

/* Open path under v's root with flags (O_NOFOLLOW added): an fd or -1. */
static int open_under(stage__environ_t *v, const char *path, int flags);

/* Open the regular file path under v's root with flags: an fd, or -1 and
** errno (ENXIO for a FIFO, a socket or a device, which could keep the
** thread waiting for ever: opened without waiting, then refused). */
static int open_file(stage__environ_t *v, const char *path, int flags) {
    int fd = open_under(v, path, flags | O_NONBLOCK);
    struct stat st;
    if (fd < 0) return -1;
    int rc = fstat(fd, &st), e = rc ? errno : ENXIO;
    if (rc || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = e;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int open_under(stage__environ_t *v, const char *path, int flags) {
    char buf[PATH_MAX_BYTES];
    snprintf(buf, sizeof buf, "%s", path);
    if (!*buf) return fcntl(v->rootfd, F_DUPFD_CLOEXEC, 0);
    char *last;
    int dir = walk(v->rootfd, buf, &last);
    if (dir < 0) return -1;
    int fd = openat(dir, last, flags | O_NOFOLLOW | O_CLOEXEC, 0666);
    int e = fd < 0 ? link_errno(dir, last, errno) : 0;
    if (dir != v->rootfd) close(dir);
    errno = e;
    return fd;
}

/* Answer j with the value in p, or NoMemory. */
static void resolve_packed(job_t *j, stage_pack_t *p) {
    if (stage_pack_error(p))
        stage_future_reject(j->f, STAGE_ENOMEM, NULL);
    else
        stage_future_resolve(j->f, p->data, p->len);
}

static void op_read(stage__environ_t *v, job_t *j) {
    int fd = open_file(v, j->path, O_RDONLY);
    if (fd < 0) return fail_errno(j, errno);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int e = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            char *b = len < v->max_read ? stage__realloc(buf, cap) : NULL;
            if (!b) {
                e = len < v->max_read ? ENOMEM : EFBIG;
                break;
            }
            buf = b;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) e = errno;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    if (e == EFBIG || (!e && len > v->max_read)) {
        char msg[PATH_MAX_BYTES + 160];
        snprintf(msg, sizeof msg,
                 "files: cannot read '%s': it is larger than the largest "
                 "message (%zu bytes, --max-message)",
                 j->path, v->max_read);
        stage_future_reject(j->f, STAGE_ETOOBIG, msg);
    } else if (e) {
        fail_errno(j, e);
    } else {
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_str(&p, buf, len);
        resolve_packed(j, &p);
        stage_pack_free(&p);
    }
    stage__free(buf);
}

static void op_write(stage__environ_t *v, job_t *j) {
    int flags = O_WRONLY | O_CREAT | (j->op == OP_APPEND ? O_APPEND : O_TRUNC);
    int fd = open_file(v, j->path, flags);
    if (fd < 0) return fail_errno(j, errno);
    size_t off = 0;
    int e = 0;
    while (off < j->len) {
        ssize_t n = write(fd, j->data + off, j->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            e = errno;
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) && !e) e = errno;
    if (e) return fail_errno(j, e);
    stage_future_resolve(j->f, "\xc3", 1);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void op_list(stage__environ_t *v, job_t *j) {
    int fd = open_under(v, j->path, O_RDONLY | O_DIRECTORY);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int e = errno;
        if (fd >= 0) close(fd);
        return fail_errno(j, e);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool nomem = false;
    struct dirent *de;
    while (!nomem && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = stage__realloc(names, cap * sizeof *p);
            if (!p) break;
            names = p;
        }
        nomem = !(names[n] = stage__strdup(de->d_name));
        n += !nomem;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        stage_pack_cstr(&p, names[i]);
        stage__free(names[i]);
    }
    stage__free(names);
    if (nomem)
        stage_future_reject(j->f, STAGE_ENOMEM, NULL);
    else
        resolve_packed(j, &p);
    stage_pack_free(&p);
}

static void op_exists(stage__environ_t *v, job_t *j) {
    char buf[PATH_MAX_BYTES], *last;
    snprintf(buf, sizeof buf, "%s", j->path);
    int dir = walk(v->rootfd, buf, &last);
    struct stat st;
    int rc = dir < 0 ? -1 : fstatat(dir, last, &st, AT_SYMLINK_NOFOLLOW);
    int e = errno;
    if (dir >= 0 && dir != v->rootfd) close(dir);
    if (rc && e != ENOENT && e != ENOTDIR) return fail_errno(j, e);
    stage_future_resolve(j->f, rc ? "\xc2" : "\xc3", 1);
}

/* Run j, answer it and free it; the node may stop once it is answered. */
static void run_job(stage__environ_t *v, job_t *j) {
    switch (j->op) {
    case OP_READ:
        op_read(v, j);
        break;
    case OP_WRITE:
    case OP_APPEND:
        op_write(v, j);
        break;
    case OP_LIST:
        op_list(v, j);
        break;
    default:
        op_exists(v, j);
        break;
    }
    stage_future_release(&j->f);
    stage__free(j->path);
    stage__free(j->data);
    stage__free(j);
    stage_node_release(v->node);
}

/* ---- standard input (the environment thread) ------------------------------
 */

/* Queue a line (or the end, eof, with the reason in text if an error) and
** poke the Stdin actor unless a poke is on its way. */
static void push_line(stage__environ_t *v, const char *text, size_t len,
                      bool eof) {
    line_t *l = stage__malloc(sizeof *l + len);
    if (!l) {
        LOG_ERROR("stdin: out of memory: a line is lost");
        return;
    }
    l->next = NULL;
    l->eof = eof;
    l->len = len;
    memcpy(l->text, text, len);
    pthread_mutex_lock(&v->lock);
    *v->lines_tail = l;
    v->lines_tail = &l->next;
    v->nlines++;
    bool poke = !v->poked;
    v->poked = true;
    pthread_mutex_unlock(&v->lock);
    if (poke) {
        stage_id_t to;
        stage__environ_stdin(v->node, &to);
        stage_node_send(v->node, &to, "_input", NULL, 0, NULL);
    }
}

/* The input so far: a line not ended yet. */
typedef struct partial {
    char buf[LINE_MAX_BYTES];
    size_t len;
} partial_t;

/* Read what fd 0 has; false at its end (queued). */
static bool read_stdin(stage__environ_t *v, partial_t *pl) {
    char buf[16384];
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
        char why[160] = "";
        if (n < 0)
            snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
        if (pl->len) push_line(v, pl->buf, pl->len, false);
        pl->len = 0;
        push_line(v, why, strlen(why), true);
        return false;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            size_t len = pl->len;
            if (len && pl->buf[len - 1] == '\r') len--;
            push_line(v, pl->buf, len, false);
            pl->len = 0;
            continue;
        }
        if (pl->len == LINE_MAX_BYTES) { /* a piece of a long line */
            push_line(v, pl->buf, pl->len, false);
            pl->len = 0;
        }
        pl->buf[pl->len++] = buf[i];
    }
    return true;
}

static void *env_main(void *arg) {
    stage__environ_t *v = arg;
    partial_t *pl = stage__calloc(1, sizeof *pl);
    if (!pl) LOG_ERROR("stdin: out of memory: standard input is not read");
    for (;;) {
        pthread_mutex_lock(&v->lock);
        job_t *jobs = v->jobs;
        v->jobs = NULL;
        v->jobs_tail = &v->jobs;
        bool stop = v->stopping;
        bool in =
            pl && v->want_stdin && !v->stdin_done && v->nlines < LINES_MAX;
        pthread_mutex_unlock(&v->lock);
        while (jobs) {
            job_t *next = jobs->next;
            run_job(v, jobs);
            jobs = next;
        }
        if (stop) break;
        struct pollfd fds[2] = {{v->wake[0], POLLIN, 0}, {0, POLLIN, 0}};
        if (poll(fds, in ? 2 : 1, -1) < 0 && errno != EINTR) {
            LOG_ERROR("the environment thread cannot wait: %s",
                      strerror(errno));
            break;
        }
        if (fds[0].revents) {
            char drain[64];
            while (read(v->wake[0], drain, sizeof drain) == sizeof drain) {
            }
        }
        if (in && fds[1].revents && !read_stdin(v, pl)) {
            pthread_mutex_lock(&v->lock);
            v->stdin_done = true;
            pthread_mutex_unlock(&v->lock);
        }
    }
    stage__free(pl);
    return NULL;
}

/* ---- the node's side -------------------------------------------------------
 */

/* Register type def and spawn its one actor on theatre 0, its id in out. */
static int add_actor(stage_node_t *node, const stage_type_def_t *def,
                     stage_id_t *out) {
    stage__type_t *ty;
    int rc = stage__type_add(node, def->name, def->kind, NULL,
                             &stage__native_kind, def, NULL, NULL, &ty);
    if (rc) return rc;
    stage__theatre_t *t0 = stage__node_theatre(node, 0);
    uint64_t serial = stage__serial_reserve(t0);
    if (!stage__actor_new(t0, ty, serial, NULL)) return STAGE_ENOMEM;
    stage__make_id(node, serial, ty, out);
    return 0;
}

int stage__environ_new(stage_node_t *node) {
    stage__environ_t *v = stage__calloc(1, sizeof *v);
    if (!v) return STAGE_ENOMEM;
    v->node = node;
    v->rootfd = -1;
    v->jobs_tail = &v->jobs;
    v->lines_tail = &v->lines;
    v->max_read = node->cfg.max_message - 16; /* the string's header */
    pthread_mutex_init(&v->lock, NULL);
    node->environ = v;
    if (pipe2(v->wake, O_CLOEXEC | O_NONBLOCK)) {
        v->wake[0] = v->wake[1] = -1;
        return STAGE_ENOMEM;
    }
    int rc = add_actor(node, &stdin_def, &v->stdin_id);
    if (rc || !node->cfg.files_dir) return rc;
    v->rootfd = open(node->cfg.files_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (v->rootfd < 0) return STAGE_EIO;
    v->has_files = true;
    return add_actor(node, &files_def, &v->files_id);
}

void stage__environ_close(stage_node_t *node) {
    stage__environ_t *v = node->environ;
    if (!v) return;
    pthread_mutex_lock(&v->lock);
    v->stopping = true;
    bool started = v->started;
    pthread_mutex_unlock(&v->lock);
    if (started) {
        wake(v);
        pthread_join(v->thread, NULL); /* it answers the calls queued */
    }
    while (v->lines) {
        line_t *next = v->lines->next;
        stage__free(v->lines);
        v->lines = next;
    }
    if (v->wake[0] >= 0) close(v->wake[0]), close(v->wake[1]);
    if (v->rootfd >= 0) close(v->rootfd);
    pthread_mutex_destroy(&v->lock);
    stage__free(v->subs);
    stage__free(v);
    node->environ = NULL;
}

/* id, an environment actor's, as the node names it now: made when the
** node was, the actor's id takes the address the node got since (a
** network), as every id of its actors does. */
static void now_named(stage_node_t *node, const stage_id_t *id,
                      stage_id_t *out) {
    *out = *id;
    memcpy(out->node, node->address, sizeof out->node);
}

int stage__environ_stdin(stage_node_t *node, stage_id_t *out) {
    if (!node->environ) return STAGE_EINVAL;
    now_named(node, &node->environ->stdin_id, out);
    return 0;
}

int stage__environ_files(stage_node_t *node, stage_id_t *out) {
    if (!node->environ || !node->environ->has_files) return STAGE_EINVAL;
    now_named(node, &node->environ->files_id, out);
    return 0;
}

void stage_node_stdin(stage_node_t *node, stage_id_t *out) {
    stage__environ_stdin(node, out);
}

int stage_node_files(stage_node_t *node, stage_id_t *out) {
    return stage__environ_files(node, out);
}
