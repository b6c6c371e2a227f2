/*
** tests/sim/sim_driver.c: a small program that runs `stage sim` until the
** stage command links it (same options: sim_driver --nodes N --seed S ...).
*/
#include "sim/sim_main.h"

int main(int argc, char **argv) {
    argv[0] = "sim";
    return stage__sim_main(argc, argv);
}
