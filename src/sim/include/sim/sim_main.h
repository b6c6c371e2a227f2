/*
** sim/sim_main.h: the `stage sim` command.
*/
#ifndef STAGE_SIM_MAIN_H
#define STAGE_SIM_MAIN_H

/* Run `stage sim --nodes N --seed S [options]` (argv[0] is "sim"); prints
** one JSON object per line on stdout. Returns the process exit status:
** 0, 1 when a checked property failed, 2 on bad usage. */
int stage__sim_main(int argc, char **argv);

#endif
