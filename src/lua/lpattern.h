/*
** lua/lpattern.h: Lua's pattern functions (string.find, string.match,
** string.gmatch, string.gsub) as the sandbox gives them: the same results
** and errors as Lua's, but the matcher keeps its backtracking on a stack of
** its own instead of C recursion, so a match that runs long can yield for
** the watchdog and go on later (lpattern.c says how).
*/
#ifndef STAGE_LUA_LPATTERN_H
#define STAGE_LUA_LPATTERN_H

#include <lua.h>

/* Set find, match, gmatch and gsub in the table on top of L to the
** preemptible ones. The theatre's thread, while the sandbox is set up. */
void stage__lpattern_open(lua_State *L);

/* Tests only, before any Lua state uses the functions (not thread-safe):
** every 'every' steps of a match, ask poll(L) whether to yield (1: yield
** now, only asked where L can yield; it may also raise). poll NULL: the
** watchdog's request (stage__lua_preempt_point); every 0: the default. */
void stage__lpattern_test_poll(int (*poll)(lua_State *L), unsigned every);

#endif
