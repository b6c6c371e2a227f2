/* cli/sim.c: `stage sim` runs the DHT simulator (src/sim) when it is built. */
#include <stdio.h>

#include "cli/cli.h"

#ifdef STAGE_HAVE_SIM
#include "sim/sim_main.h"
#endif

int stage__cli_sim(int argc, char **argv) {
#ifdef STAGE_HAVE_SIM
    return stage__sim_main(argc, argv);
#else
    (void)argc;
    (void)argv;
    fputs("stage sim: this build has no simulator (src/sim missing)\n", stderr);
    return 2;
#endif
}
