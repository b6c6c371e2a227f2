/* cli/cli.h: subcommands implemented outside cli/main.c. */
#ifndef STAGE_CLI_CLI_H
#define STAGE_CLI_CLI_H

/* `stage sim ...`: argv[0] is "sim". Returns the exit status. */
int stage__cli_sim(int argc, char **argv);

#endif
