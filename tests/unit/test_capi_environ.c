/*
** tests/unit/test_capi_environ.c: the environment actors through the C
** API (core/environ.c) — the file actor of cfg.files_dir, reached with
** stage_node_files, and the node's checks of files_dir and memory_limit.
** stage.stdin and the sandbox are tested from Lua (tests/lua).
*/
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_capi_util.h"

/* A fresh directory under /tmp, its path in dir. */
static void make_dir(char *dir, size_t len) {
    snprintf(dir, len, "/tmp/stage-environ-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* Send method(path [, data]) to the file actor from the test's thread. */
static stage_future_t *files_call(stage_node_t *node, const stage_id_t *files,
                                  const char *method, const char *path,
                                  const char *data) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, data ? 2 : 1);
    stage_pack_cstr(&p, path);
    if (data) stage_pack_cstr(&p, data);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, files, method, p.data, p.len, &f),
                     0);
    stage_pack_free(&p);
    return f;
}

static void
config_refuses_a_tiny_heap_cap_and_a_missing_directory(void **state) {
    (void)state;
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    assert_int_equal(cfg.memory_limit, STAGE_MEMORY_LIMIT_DEFAULT);
    assert_null(cfg.files_dir);
    stage_node_t *node = NULL;
    cfg.memory_limit = STAGE_MEMORY_LIMIT_MIN - 1;
    assert_int_equal(stage_node_new(&node, &cfg), STAGE_EINVAL);
    cfg.memory_limit = 0; /* no cap */
    cfg.files_dir = "/nonexistent/stage-environ";
    assert_int_equal(stage_node_new(&node, &cfg), STAGE_EIO);
    assert_null(node);
}

static void node_without_files_dir_has_stdin_and_no_file_actor(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, NULL);
    stage_id_t id;
    assert_int_equal(stage_node_files(node, &id), STAGE_EINVAL);
    stage_node_stdin(node, &id);
    assert_string_equal(id.type, "stage.Stdin");
    stage_node_destroy(&node);
}

static void
file_actor_writes_reads_and_refuses_paths_out_of_its_dir(void **state) {
    (void)state;
    char dir[64], path[128], buf[64];
    make_dir(dir, sizeof dir);
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    cfg.files_dir = dir;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    stage_id_t files;
    assert_int_equal(stage_node_files(node, &files), 0);
    assert_string_equal(files.type, "stage.Files");
    cu_start(node);
    stage_future_t *f = files_call(node, &files, "write", "a.txt", "hello");
    assert_int_equal(cu_status(&f), 0);
    f = files_call(node, &files, "append", "a.txt", " world");
    assert_int_equal(cu_status(&f), 0);
    f = files_call(node, &files, "read", "a.txt", NULL);
    assert_string_equal(cu_str(&f, buf, sizeof buf), "hello world");
    snprintf(path, sizeof path, "%s/a.txt", dir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof buf), 11);
    close(fd);
    f = files_call(node, &files, "read", "../a.txt", NULL);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_EINVAL);
    assert_non_null(strstr(res.message, "path '../a.txt' refused"));
    stage_future_release(&f);
    f = files_call(node, &files, "read", "missing", NULL);
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_EIO);
    assert_string_equal(res.message, "files: cannot read 'missing': no such "
                                     "file or directory");
    stage_future_release(&f);
    cu_end(&node);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    alarm(120); /* a hang fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            config_refuses_a_tiny_heap_cap_and_a_missing_directory),
        cmocka_unit_test(node_without_files_dir_has_stdin_and_no_file_actor),
        cmocka_unit_test(
            file_actor_writes_reads_and_refuses_paths_out_of_its_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
