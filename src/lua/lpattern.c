/*
** lua/lpattern.c: Lua patterns (the Lua 5.4 manual, §6.4.1) for
** string.find, string.match, string.gmatch and string.gsub, written so
** that a match that runs long can be preempted like Lua code.
**
** Lua's own matcher recurses in C at every choice (an optional item, a
** repetition, a capture), so a pattern that backtracks a lot holds its
** theatre until it returns, and no hook can stop it. This one keeps its
** choices on an explicit stack of frames (match_t), one per place where
** a recursive matcher would recurse, and runs as a loop of small steps
** (run). Every POLL_STEPS steps it asks the watchdog's question
** (stage__lua_preempt_point, lactor.c): when the turn is to be preempted
** and the caller can yield, the match state is copied into a userdata on
** the Lua stack ("boxed") and the function yields with a continuation
** that goes on from there; if the handler dies meanwhile, the collector
** takes the box. Where it cannot yield (a coroutine the handler made, a
** metamethod, table.sort's comparator) the match still meets the budget:
** the preemption point raises BudgetExceeded.
**
** Semantics are Lua's, errors included: the same order of exploration,
** errors raised when the matcher reaches them (a malformed tail that is
** never reached is no error), at most 32 captures, and "pattern too
** complex" at the nesting depth where Lua's C recursion stops (MAXDEPTH).
** gsub's function replacement is called with lua_callk: unlike Lua's
** gsub, it may yield (await), and its Lua code is preempted like the
** handler's (with lua_call it could only meet the budget). A plain find
** (no special characters, or plain = true) never takes quadratic time
** (find_plain). Two shortcuts Lua lacks, same results: where every match
** must begin with one character of a class (first_class), the places
** where none stands are passed by at once (skip); a '.' repetition takes
** the rest of the subject without looking at it.
**
** States of a match (m->mode): ITEM matches the pattern item at m->p
** against m->s, and the simple items after it; BACK unwinds the frames
** after a failure, undoing captures, down to the next alternative; SCAN
** counts how far the item of a greedy repetition repeats; BALANCE scans
** for the end of a %b. Every state works in bounded steps. All of it
** runs on the thread that calls the function; nothing here is shared
** between Lua states.
*/
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include <lauxlib.h>

#include "lpattern.h"
#include "lstage.h"

#define L_ESC '%'
#define MAXCAPTURES 32      /* Lua's LUA_MAXCAPTURES */
#define MAXDEPTH 200        /* Lua's MAXCCALLS: nested matches at most */
#define CAP_UNFINISHED (-1) /* a capture still open */
#define CAP_POSITION (-2)   /* a position capture, () */
#define POLL_STEPS 2048     /* steps between two looks at the watchdog */
#define SCAN_CHUNK 256      /* characters a SCAN or BALANCE step looks at */

static int (*poll_fn)(lua_State *L) = stage__lua_preempt_point;
static unsigned poll_every = POLL_STEPS;

void stage__lpattern_test_poll(int (*poll)(lua_State *L), unsigned every) {
    poll_fn = poll ? poll : stage__lua_preempt_point;
    poll_every = every ? every : POLL_STEPS;
}

enum { ITEM, BACK, SCAN, BALANCE };            /* match_t.mode */
enum { F_OPT, F_MAX, F_MIN, F_OPEN, F_CLOSE }; /* frame_t.kind */
enum { R_FAIL, R_MATCH, R_YIELD };             /* what run returns */

typedef struct capture {
    const char *init;
    ptrdiff_t len; /* or CAP_UNFINISHED, CAP_POSITION */
} capture_t;

/* A choice the match made, and what to do if what follows it fails:
** F_OPT: x? took x; go on at s with p (the pattern after x?) without it.
** F_MAX: x* or x+ took s..cur; give back one and try again, down to s.
** F_MIN: x- took up to s; take one more x if s has one and try again.
** F_OPEN: a capture opened; close it down. F_CLOSE: capture l closed;
** open it again. */
typedef struct frame {
    int kind;
    int l;
    const char *s, *cur, *p, *ep; /* ep: the end of x's class */
} frame_t;

/* One match in progress, and the call's own state around it. Pointers
** point into the subject and the pattern, which stay on the Lua stack (or
** in upvalues) for the whole call, yields included. */
typedef struct match {
    const char *src, *src_end; /* the subject */
    const char *pat, *p_end;   /* the pattern, after a '^' anchor */
    const char *start;         /* where this attempt began */
    const char *s, *p;         /* where the match stands */
    const char *e;             /* R_MATCH: where the match ended */
    const char *first_ep;      /* see first_class; or NULL */
    int first_lit;             /* that class is this character, or -1 */
    unsigned fuel;             /* steps left until the next look */
    int mode, level, nframes;
    int bal;    /* BALANCE: how many %b openings are still open */
    int anchor; /* find, match: only one attempt */
    int find;   /* str_find_aux: find (1) or match (0) */
    int slot;   /* 0, or the stack slot of the box this is in */
    capture_t capture[MAXCAPTURES];
    frame_t frame[MAXDEPTH];
} match_t;

/* ---- classes ------------------------------------------------------------ */

/* 1 if c is in class cl (%a, %d, ...; any other cl: c is cl). */
static int match_class(int c, int cl) {
    int res;
    switch (tolower(cl)) {
    case 'a':
        res = isalpha(c);
        break;
    case 'c':
        res = iscntrl(c);
        break;
    case 'd':
        res = isdigit(c);
        break;
    case 'g':
        res = isgraph(c);
        break;
    case 'l':
        res = islower(c);
        break;
    case 'p':
        res = ispunct(c);
        break;
    case 's':
        res = isspace(c);
        break;
    case 'u':
        res = isupper(c);
        break;
    case 'w':
        res = isalnum(c);
        break;
    case 'x':
        res = isxdigit(c);
        break;
    default:
        return cl == c;
    }
    return islower(cl) ? res != 0 : res == 0;
}

/* 1 if c is in the set [...] at p, whose ']' is at ec. */
static int match_set(int c, const char *p, const char *ec) {
    int in = 1;
    if (p[1] == '^') {
        in = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == L_ESC) {
            p++;
            if (match_class(c, (unsigned char)*p)) return in;
        } else if (p[1] == '-' && p + 2 < ec) {
            p += 2;
            if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p) return in;
        } else if ((unsigned char)*p == c) {
            return in;
        }
    }
    return !in;
}

/* The end of the single-character class at p (p < m->p_end); raises on a
** malformed one. */
static const char *class_end(lua_State *L, const match_t *m, const char *p) {
    switch (*p++) {
    case L_ESC:
        if (p == m->p_end) luaL_error(L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (p < m->p_end && *p == '^') p++;
        do { /* the first character is in the set, even a ']' */
            if (p == m->p_end) luaL_error(L, "malformed pattern (missing ']')");
            if (*p++ == L_ESC && p < m->p_end) p++;
        } while (p == m->p_end || *p != ']');
        return p + 1;
    default:
        return p;
    }
}

/* 1 if the character at s is in the class p..ep (none past the end). */
static inline int single(const match_t *m, const char *s, const char *p,
                         const char *ep) {
    if (s >= m->src_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.':
        return 1;
    case L_ESC:
        return match_class(c, (unsigned char)p[1]);
    case '[':
        return match_set(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

/* ---- the matcher -------------------------------------------------------- */

/* Start an attempt at s with the whole pattern. */
static void begin(match_t *m, const char *s) {
    m->start = m->s = s;
    m->p = m->pat;
    m->level = 0;
    m->nframes = 0;
    m->mode = ITEM;
}

/* Set m up for subject s (ls bytes) and pattern p (lp bytes). */
static void setup(match_t *m, const char *s, size_t ls, const char *p,
                  size_t lp) {
    m->src = s;
    m->src_end = s + ls;
    m->pat = p;
    m->p_end = p + lp;
    m->fuel = poll_every;
    m->anchor = m->find = m->slot = 0;
    m->first_ep = NULL;
}

/* If every match must begin with one character of the pattern's first
** item (a class alone or with '+', not '.'), note the class's end: an
** attempt where no such character stands fails at once, and skip passes
** such places by. Raises on a malformed first item, as the first attempt
** would: call it where Lua's first attempt would begin. */
static void first_class(lua_State *L, match_t *m) {
    const char *p = m->pat;
    if (p == m->p_end || *p == '(' || *p == ')' || *p == '.') return;
    if (*p == '$' && p + 1 == m->p_end) return;
    if (*p == L_ESC && p + 1 < m->p_end &&
        (p[1] == 'b' || p[1] == 'f' || isdigit((unsigned char)p[1])))
        return;
    const char *ep = class_end(L, m, p);
    int suffix = ep < m->p_end ? *ep : '\0';
    if (suffix == '*' || suffix == '?' || suffix == '-') return;
    m->first_ep = ep;
    m->first_lit = *p == L_ESC || *p == '[' ? -1 : (unsigned char)*p;
}

/* The first place from s on (or the end) where a match may begin, as far
** as the fuel goes (one step a character). */
static const char *skip(match_t *m, const char *s) {
    if (!m->first_ep) return s;
    size_t n = (size_t)(m->src_end - s);
    if (n > m->fuel) n = m->fuel;
    const char *stop = s + n;
    if (m->first_lit >= 0) {
        const char *q = memchr(s, m->first_lit, n);
        stop = q ? q : stop;
    } else {
        const char *q = s;
        while (q < stop && !single(m, q, m->pat, m->first_ep))
            q++;
        stop = q;
    }
    m->fuel -= (unsigned)(stop - s);
    return stop;
}

/* A new frame of kind; raises where Lua's recursion would have. */
static frame_t *push(lua_State *L, match_t *m, int kind) {
    if (m->nframes + 1 >= MAXDEPTH) luaL_error(L, "pattern too complex");
    frame_t *f = &m->frame[m->nframes++];
    f->kind = kind;
    return f;
}

/* The attempt fails here: unwind (item's return value). */
static int fail(match_t *m) {
    m->mode = BACK;
    return 0;
}

/* Open capture what (CAP_UNFINISHED or CAP_POSITION) at s. */
static void open_capture(lua_State *L, match_t *m, const char *s,
                         ptrdiff_t what) {
    if (m->level >= MAXCAPTURES) luaL_error(L, "too many captures");
    m->capture[m->level].init = s;
    m->capture[m->level].len = what;
    m->level++;
    push(L, m, F_OPEN);
}

/* Close the innermost open capture at s. */
static void close_capture(lua_State *L, match_t *m, const char *s) {
    int l = m->level - 1;
    while (l >= 0 && m->capture[l].len != CAP_UNFINISHED)
        l--;
    if (l < 0) luaL_error(L, "invalid pattern capture");
    m->capture[l].len = s - m->capture[l].init;
    push(L, m, F_CLOSE)->l = l;
}

/* %b at p (its '%'), at s. */
static int balance_start(lua_State *L, match_t *m, const char *s,
                         const char *p) {
    if (p + 2 >= m->p_end - 1)
        luaL_error(L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != p[2]) return fail(m);
    m->s = s;
    m->p = p;
    m->bal = 1;
    m->mode = BALANCE;
    return 0;
}

/* One step of BALANCE: look for the %b's closing character. */
static void balance(match_t *m) {
    char b = m->p[2], e = m->p[3];
    const char *s = m->s;
    const char *stop =
        m->src_end - s > SCAN_CHUNK ? s + SCAN_CHUNK : m->src_end;
    while (++s < stop) {
        if (*s == e) {
            if (--m->bal == 0) {
                m->s = s + 1;
                m->p += 4;
                m->mode = ITEM;
                return;
            }
        } else if (*s == b) {
            m->bal++;
        }
    }
    if (stop == m->src_end)
        m->mode = BACK;
    else
        m->s = s - 1; /* the next step goes on after it */
}

/* x* (or the rest of x+) at s, x at p..ep: count how far it goes. */
static void repeat_start(lua_State *L, match_t *m, const char *s, const char *p,
                         const char *ep) {
    frame_t *f = push(L, m, F_MAX);
    f->s = f->cur = s;
    f->p = p;
    f->ep = ep;
    m->mode = SCAN;
}

/* One step of SCAN, on the top frame; then try the longest first. */
static void scan(match_t *m) {
    frame_t *f = &m->frame[m->nframes - 1];
    if (*f->p == '.') { /* any character: all the rest of the subject */
        f->cur = m->src_end;
    } else {
        for (int n = 0; n < SCAN_CHUNK; n++, f->cur++)
            if (!single(m, f->cur, f->p, f->ep)) goto done;
        return;
    }
done:
    m->s = f->cur;
    m->p = f->ep + 1;
    m->mode = ITEM;
}

/* One step of BACK: unwind the frames down to the next alternative and
** take it (ITEM), or to none (no frames left, still BACK). */
static void back(match_t *m) {
    while (m->nframes > 0) {
        frame_t *f = &m->frame[m->nframes - 1];
        switch (f->kind) {
        case F_OPT: /* without x: the last alternative, in the caller's */
            m->nframes--;
            m->s = f->s;
            m->p = f->p;
            m->mode = ITEM;
            return;
        case F_MAX:
            if (f->cur == f->s) break;
            m->s = --f->cur;
            m->p = f->ep + 1;
            m->mode = ITEM;
            return;
        case F_MIN:
            if (!single(m, f->s, f->p, f->ep)) break;
            m->s = ++f->s;
            m->p = f->ep + 1;
            m->mode = ITEM;
            return;
        case F_OPEN:
            m->level--;
            break;
        case F_CLOSE:
            m->capture[f->l].len = CAP_UNFINISHED;
            break;
        }
        m->nframes--; /* no alternative left: the failure goes on down */
    }
}

/* %f[set] at p (its '%') at s: the end of the set if a frontier of it is
** at s, else NULL. */
static const char *frontier(lua_State *L, const match_t *m, const char *s,
                            const char *p) {
    p += 2;
    if (p >= m->p_end || *p != '[')
        luaL_error(L, "missing '[' after '%%f' in pattern");
    const char *ep = class_end(L, m, p);
    int prev = s == m->src ? '\0' : (unsigned char)s[-1];
    int cur = s < m->src_end ? (unsigned char)*s : '\0';
    return match_set(prev, p, ep - 1) || !match_set(cur, p, ep - 1) ? NULL : ep;
}

/* The back reference %c (c: '0' to '9') at s: where the subject goes on
** after the capture's text, or NULL if it is not there. */
static const char *back_reference(lua_State *L, const match_t *m, const char *s,
                                  int c) {
    int l = c - '1';
    if (l < 0 || l >= m->level || m->capture[l].len == CAP_UNFINISHED)
        luaL_error(L, "invalid capture index %%%d", l + 1);
    size_t len = (size_t)m->capture[l].len;
    if ((size_t)(m->src_end - s) < len || memcmp(m->capture[l].init, s, len))
        return NULL;
    return s + len;
}

/* The pattern item at m->p against m->s, and the simple ones after it
** (one step, as long as fuel lasts). 1 once the pattern has matched. */
static int item(lua_State *L, match_t *m) {
    const char *s = m->s, *p = m->p;
    for (int first = 1;; first = 0) {
        if (p == m->p_end) {
            m->e = s;
            return 1;
        }
        if (!first) { /* each item is a step: out of fuel, run polls */
            if (m->fuel == 0) {
                m->s = s;
                m->p = p;
                return 0;
            }
            m->fuel--;
        }
        const char *ep;
        switch (*p) {
        case '(':
            if (p + 1 < m->p_end && p[1] == ')') {
                open_capture(L, m, s, CAP_POSITION);
                p += 2;
            } else {
                open_capture(L, m, s, CAP_UNFINISHED);
                p++;
            }
            continue;
        case ')':
            close_capture(L, m, s);
            p++;
            continue;
        case '$':
            if (p + 1 != m->p_end) goto dflt;
            if (s != m->src_end) return fail(m);
            m->e = s;
            return 1;
        case L_ESC: {
            int c1 = p + 1 < m->p_end ? (unsigned char)p[1] : '\0';
            if (c1 == 'b') return balance_start(L, m, s, p);
            if (c1 == 'f') {
                if (!(p = frontier(L, m, s, p))) return fail(m);
                continue;
            }
            if (isdigit(c1)) { /* a back reference, %1 to %9 */
                if (!(s = back_reference(L, m, s, c1))) return fail(m);
                p += 2;
                continue;
            }
            goto dflt;
        }
        default:
        dflt : {
            ep = class_end(L, m, p);
            int suffix = ep < m->p_end ? *ep : '\0';
            if (!single(m, s, p, ep)) {
                if (suffix == '*' || suffix == '?' || suffix == '-') {
                    p = ep + 1; /* zero of them will do */
                    continue;
                }
                return fail(m);
            }
            switch (suffix) {
            case '?': {
                frame_t *f = push(L, m, F_OPT);
                f->s = s;
                f->p = ep + 1;
                s++;
                p = ep + 1;
                continue;
            }
            case '+':
            case '*':
                repeat_start(L, m, suffix == '+' ? s + 1 : s, p, ep);
                scan(m); /* the first chunk now: most repeats end there */
                if (m->mode != ITEM) return 0;
                s = m->s;
                p = m->p;
                continue;
            case '-': {
                frame_t *f = push(L, m, F_MIN);
                f->s = s;
                f->p = p;
                f->ep = ep;
                p = ep + 1; /* none first */
                continue;
            }
            default:
                s++;
                p = ep;
                continue;
            }
        }
        }
    }
}

/* Run the attempt m stands in until it matches (R_MATCH, m->e), fails
** (R_FAIL) or is to yield (R_YIELD: call again to go on). */
static int run(lua_State *L, match_t *m) {
    for (;;) {
        if (m->fuel == 0) {
            m->fuel = poll_every;
            if (poll_fn(L) && lua_isyieldable(L)) return R_YIELD;
        }
        m->fuel--;
        switch (m->mode) {
        case BACK:
            back(m);
            if (m->mode == BACK) return R_FAIL; /* no frames left */
            /* fall through - to the alternative back took */
        case ITEM:
            if (item(L, m)) return R_MATCH;
            if (m->mode == BACK && m->nframes == 0) return R_FAIL;
            break;
        case SCAN:
            scan(m);
            break;
        case BALANCE:
            balance(m);
            break;
        }
    }
}

/* ---- captures ----------------------------------------------------------- */

/* Capture i of a match s..e: its text in *cap and its length, or
** CAP_POSITION with the position pushed. Capture 0 of a pattern without
** any is the whole match. */
static ptrdiff_t get_capture(lua_State *L, const match_t *m, int i,
                             const char *s, const char *e, const char **cap) {
    if (i >= m->level) {
        if (i != 0) luaL_error(L, "invalid capture index %%%d", i + 1);
        *cap = s;
        return e - s;
    }
    ptrdiff_t len = m->capture[i].len;
    *cap = m->capture[i].init;
    if (len == CAP_UNFINISHED) luaL_error(L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(L, (m->capture[i].init - m->src) + 1);
    return len;
}

static void push_capture(lua_State *L, const match_t *m, int i, const char *s,
                         const char *e) {
    const char *cap;
    ptrdiff_t len = get_capture(L, m, i, s, e, &cap);
    if (len != CAP_POSITION) lua_pushlstring(L, cap, (size_t)len);
}

/* Push the captures (none: the whole match s..e, unless s is NULL). */
static int push_captures(lua_State *L, const match_t *m, const char *s,
                         const char *e) {
    int n = (m->level == 0 && s) ? 1 : m->level;
    luaL_checkstack(L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(L, m, i, s, e);
    return n;
}

/* ---- yielding ----------------------------------------------------------- */

/* Put m in a userdata at stack slot (replacing what is there, growing the
** stack to it), if it is not in one yet. Returns the boxed state. */
static match_t *box_match(lua_State *L, match_t *m, int slot) {
    if (m->slot) return m;
    if (lua_gettop(L) < slot) lua_settop(L, slot);
    match_t *b = lua_newuserdatauv(L, sizeof *b, 0);
    memcpy(b, m, offsetof(match_t, frame) + m->nframes * sizeof(frame_t));
    b->slot = slot;
    lua_replace(L, slot);
    return b;
}

/* ---- find, match -------------------------------------------------------- */

/* A position from Lua (negative: from the end) as 1..len+1 (or more). */
static size_t posrelat(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos;
    if (pos == 0) return 1;
    if (pos < -(lua_Integer)len) return 1;
    return len + (size_t)pos + 1;
}

/* 1 if p has none of the special characters (find does it plainly). */
static int plain(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++) {
        switch (p[i]) {
        case '^':
        case '$':
        case '*':
        case '+':
        case '?':
        case '.':
        case '(':
        case '[':
        case '%':
        case '-':
            return 0;
        }
    }
    return 1;
}

/* The first p (lp bytes) in s (ls bytes), or NULL. Lua's way first (memchr
** for its first byte, then memcmp), fast when that byte is rare; once the
** comparisons have cost more than a few times the bytes passed, memmem
** (two-way: linear) from there, so no needle makes it quadratic. */
static const char *find_plain(const char *s, size_t ls, const char *p,
                              size_t lp) {
    if (lp == 0) return s;
    if (lp > ls) return NULL;
    const char *q = s, *last = s + (ls - lp); /* where a match may start */
    size_t work = 0;
    while (q <= last && (q = memchr(q, *p, (size_t)(last - q) + 1))) {
        if (!memcmp(q + 1, p + 1, lp - 1)) return q;
        q++;
        work += lp;
        if (work > 1024 + 4 * (size_t)(q - s))
            return memmem(q, (size_t)(s + ls - q), p, lp);
    }
    return NULL;
}

static int find_k(lua_State *L, int status, lua_KContext ctx);

/* The attempts of find or match from m->start on. */
static int find_loop(lua_State *L, match_t *m) {
    for (;;) {
        int r = run(L, m);
        if (r == R_MATCH) {
            if (!m->find) return push_captures(L, m, m->start, m->e);
            lua_pushinteger(L, (m->start - m->src) + 1);
            lua_pushinteger(L, m->e - m->src);
            return push_captures(L, m, NULL, NULL) + 2;
        }
        if (r == R_YIELD) {
            if (!m->slot) { /* the arguments stay: they hold the strings */
                lua_settop(L, 4);
                m = box_match(L, m, 5);
            }
            return lua_yieldk(L, 0, 5, find_k);
        }
        if (m->anchor || m->start >= m->src_end) {
            luaL_pushfail(L);
            return 1;
        }
        begin(m, skip(m, m->start + 1));
    }
}

/* find and match go on after a yield: the box is at slot ctx. */
static int find_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    lua_settop(L, (int)ctx); /* what resume passed */
    return find_loop(L, lua_touserdata(L, (int)ctx));
}

static int find_aux(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrelat(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || plain(p, lp))) {
        const char *hit = find_plain(s + init, ls - init, p, lp);
        if (!hit) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (hit - s) + 1);
        lua_pushinteger(L, (hit - s) + (lua_Integer)lp);
        return 2;
    }
    match_t m;
    int anchor = lp > 0 && *p == '^';
    setup(&m, s, ls, p + anchor, lp - anchor);
    m.anchor = anchor;
    m.find = find;
    if (!anchor) first_class(L, &m);
    begin(&m, skip(&m, s + init));
    return find_loop(L, &m);
}

/* string.find(s, pattern [, init [, plain]]) */
static int l_find(lua_State *L) {
    return find_aux(L, 1);
}

/* string.match(s, pattern [, init]) */
static int l_match(lua_State *L) {
    return find_aux(L, 0);
}

/* ---- gmatch ------------------------------------------------------------- */

/* An iterator's state (upvalue 3): where the next search starts (past the
** end: none), and where the last match ended (no empty match there). */
typedef struct gmatch {
    size_t src;
    const char *lastmatch;
    const char *s, *p; /* upvalues 1 and 2 */
    size_t ls, lp;
} gmatch_t;

static int gmatch_k(lua_State *L, int status, lua_KContext ctx);

/* The attempts of an iterator from m->start on. */
static int gmatch_loop(lua_State *L, match_t *m) {
    gmatch_t *gm = lua_touserdata(L, lua_upvalueindex(3));
    for (;;) {
        int r = run(L, m);
        if (r == R_YIELD) {
            if (!m->slot) {
                lua_settop(L, 0);
                m = box_match(L, m, 1);
            }
            return lua_yieldk(L, 0, 1, gmatch_k);
        }
        if (r == R_MATCH && m->e != gm->lastmatch) {
            gm->lastmatch = m->e;
            gm->src = (size_t)(m->e - m->src);
            return push_captures(L, m, m->start, m->e);
        }
        if (m->start >= m->src_end) return 0;
        begin(m, skip(m, m->start + 1));
    }
}

/* An iterator goes on after a yield: the box is at slot ctx. */
static int gmatch_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    lua_settop(L, (int)ctx);
    return gmatch_loop(L, lua_touserdata(L, (int)ctx));
}

/* The iterator gmatch returns: the captures of the next match, or none. */
static int gmatch_aux(lua_State *L) {
    gmatch_t *gm = lua_touserdata(L, lua_upvalueindex(3));
    if (gm->src > gm->ls) return 0;
    match_t m;
    setup(&m, gm->s, gm->ls, gm->p, gm->lp); /* '^' is a character here */
    first_class(L, &m);
    begin(&m, skip(&m, gm->s + gm->src));
    return gmatch_loop(L, &m);
}

/* string.gmatch(s, pattern [, init]) */
static int l_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrelat(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2); /* the strings, kept as upvalues */
    gmatch_t *gm = lua_newuserdatauv(L, sizeof *gm, 0);
    gm->s = s;
    gm->ls = ls;
    gm->p = p;
    gm->lp = lp;
    gm->src = init > ls ? ls + 1 : init;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_aux, 3);
    return 1;
}

/* ---- gsub --------------------------------------------------------------- */

/* gsub's stack: its 4 arguments, then its state's box (once boxed), the
** match's box (once boxed) and the result's userdata (once it outgrows the
** C stack, or the state is boxed). */
#define GS_BOX 5
#define GS_MATCH 6
#define GS_BUF 7
#define GS_INIT 512 /* the result's first bytes, on the C stack */
#define GS_BOXED 64 /* or in the box, once boxed */

typedef struct gsub {
    const char *src, *src_end; /* where the next match is tried */
    const char *lastmatch;     /* end of the last match, or NULL */
    const char *ms, *me;       /* the match a replacement is called for */
    lua_Integer n, max_s;
    int tr, anchor, changed, boxed, calling;
    char *b; /* the result so far: n bytes of cap */
    size_t bn, bcap;
} gsub_t;

/* Give the result room for more bytes: in a userdata at GS_BUF. */
static void buf_grow(lua_State *L, gsub_t *g, size_t more) {
    size_t cap = g->bcap * 2;
    if (g->bn + more < g->bn) luaL_error(L, "resulting string too large");
    if (cap < g->bn + more) cap = g->bn + more;
    char *nb = lua_newuserdatauv(L, cap, 0);
    memcpy(nb, g->b, g->bn);
    lua_replace(L, GS_BUF);
    g->b = nb;
    g->bcap = cap;
}

/* Add l bytes at s to the result. */
static inline void buf_add(lua_State *L, gsub_t *g, const char *s, size_t l) {
    if (l > g->bcap - g->bn) buf_grow(L, g, l);
    memcpy(g->b + g->bn, s, l);
    g->bn += l;
}

/* g in a userdata at GS_BOX, its result in one at GS_BUF, if they are
** not yet. Returns the boxed state. */
static gsub_t *box_gsub(lua_State *L, gsub_t *g) {
    if (g->boxed) return g;
    /* a result still on the C stack goes in the box, if it is small */
    int here = lua_type(L, GS_BUF) != LUA_TUSERDATA && g->bn <= GS_BOXED / 2;
    gsub_t *b = lua_newuserdatauv(L, sizeof *b + (here ? GS_BOXED : 0), 0);
    *b = *g;
    b->boxed = 1;
    lua_replace(L, GS_BOX);
    if (here) {
        b->b = (char *)(b + 1);
        b->bcap = GS_BOXED;
        memcpy(b->b, g->b, g->bn);
    } else if (lua_type(L, GS_BUF) != LUA_TUSERDATA) {
        buf_grow(L, b, 0); /* out of the C stack */
    }
    return b;
}

/* Add the replacement string (argument 3) for match s..e of m. */
static void add_string(lua_State *L, gsub_t *g, const match_t *m, const char *s,
                       const char *e) {
    size_t l;
    const char *news = lua_tolstring(L, 3, &l), *p;
    while ((p = memchr(news, L_ESC, l)) != NULL) {
        buf_add(L, g, news, (size_t)(p - news));
        p++; /* past the '%': the string ends with a '\0' */
        if (*p == L_ESC) {
            buf_add(L, g, p, 1);
        } else if (*p == '0') {
            buf_add(L, g, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*p)) {
            const char *cap;
            ptrdiff_t len = get_capture(L, m, *p - '1', s, e, &cap);
            if (len == CAP_POSITION) {
                size_t nl;
                const char *num = lua_tolstring(L, -1, &nl);
                buf_add(L, g, num, nl);
                lua_pop(L, 1);
            } else {
                buf_add(L, g, cap, (size_t)len);
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", L_ESC);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    buf_add(L, g, news, l);
}

/* The replacement value on top for match s..e: false or nil keeps the
** match, a string or a number replaces it. Pops it. */
static void add_result(lua_State *L, gsub_t *g, const char *s, const char *e) {
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        buf_add(L, g, s, (size_t)(e - s));
        return;
    }
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    size_t l;
    const char *r = lua_tolstring(L, -1, &l);
    buf_add(L, g, r, l);
    lua_pop(L, 1);
    g->changed = 1;
}

static int gsub_k(lua_State *L, int status, lua_KContext ctx);

/* Add the replacement of match s..e of m. A function replacement may
** yield: the state is boxed first. Returns g, boxed or not. */
static gsub_t *add_value(lua_State *L, gsub_t *g, const match_t *m,
                         const char *s, const char *e) {
    switch (g->tr) {
    case LUA_TFUNCTION: {
        int yieldable = lua_isyieldable(L);
        if (yieldable) g = box_gsub(L, g);
        lua_pushvalue(L, 3);
        int n = push_captures(L, m, s, e);
        if (yieldable) {
            g->calling = 1;
            g->ms = s;
            g->me = e;
            lua_callk(L, n, 1, 0, gsub_k);
            g->calling = 0;
        } else {
            lua_call(L, n, 1);
        }
        break;
    }
    case LUA_TTABLE:
        push_capture(L, m, 0, s, e);
        lua_gettable(L, 3);
        break;
    default: /* a string or a number */
        add_string(L, g, m, s, e);
        g->changed = 1;
        return g;
    }
    add_result(L, g, s, e);
    return g;
}

/* Push gsub's results: the new string (the subject if nothing changed)
** and the number of matches. */
static int gsub_finish(lua_State *L, gsub_t *g) {
    if (!g->changed) {
        lua_pushvalue(L, 1);
    } else {
        buf_add(L, g, g->src, (size_t)(g->src_end - g->src));
        lua_pushlstring(L, g->b, g->bn);
    }
    lua_pushinteger(L, g->n);
    return 2;
}

/* The attempts of gsub from g->src on, m begun there (or under way). */
static int gsub_loop(lua_State *L, gsub_t *g, match_t *m) {
    for (;;) {
        int r = run(L, m);
        if (r == R_YIELD) {
            g = box_gsub(L, g);
            box_match(L, m, GS_MATCH);
            return lua_yieldk(L, 0, 0, gsub_k);
        }
        if (r == R_MATCH && m->e != g->lastmatch) {
            g->n++;
            g->src = g->lastmatch = m->e;
            g = add_value(L, g, m, m->start, m->e);
        } else if (g->src < g->src_end) { /* no match can begin until next */
            const char *next = skip(m, g->src + 1);
            buf_add(L, g, g->src, (size_t)(next - g->src));
            g->src = next;
        } else {
            break;
        }
        if (g->anchor || g->n >= g->max_s) break;
        begin(m, g->src);
    }
    return gsub_finish(L, g);
}

/* Set m up for gsub's subject and pattern (arguments 1 and 2). */
static void gsub_setup(lua_State *L, const gsub_t *g, match_t *m) {
    size_t ls, lp;
    const char *s = lua_tolstring(L, 1, &ls);
    const char *p = lua_tolstring(L, 2, &lp);
    setup(m, s, ls, p + g->anchor, lp - (size_t)g->anchor);
    if (!g->anchor) first_class(L, m);
}

/* gsub goes on after a yield: in its match, or in a replacement call. */
static int gsub_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    gsub_t *g = lua_touserdata(L, GS_BOX);
    if (!g->calling) {
        lua_settop(L, GS_BUF);
        return gsub_loop(L, g, lua_touserdata(L, GS_MATCH));
    }
    g->calling = 0;
    add_result(L, g, g->ms, g->me);
    if (g->anchor || g->n >= g->max_s) return gsub_finish(L, g);
    match_t m;
    gsub_setup(L, g, &m);
    begin(&m, g->src);
    return gsub_loop(L, g, &m);
}

/* string.gsub(s, pattern, repl [, n]) */
static int l_gsub(lua_State *L) {
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    luaL_argexpected(L,
                     tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                         tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                     3, "string/function/table");
    lua_settop(L, GS_BUF);
    char init[GS_INIT];
    gsub_t g = {.src = src,
                .src_end = src + srcl,
                .max_s = max_s,
                .tr = tr,
                .anchor = lp > 0 && *p == '^',
                .b = init,
                .bcap = GS_INIT};
    if (g.n >= g.max_s) return gsub_finish(L, &g);
    match_t m;
    gsub_setup(L, &g, &m);
    begin(&m, src);
    return gsub_loop(L, &g, &m);
}

void stage__lpattern_open(lua_State *L) {
    static const luaL_Reg fns[] = {{"find", l_find},
                                   {"match", l_match},
                                   {"gmatch", l_gmatch},
                                   {"gsub", l_gsub},
                                   {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
