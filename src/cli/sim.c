/* cli/sim.c: `stage sim` runs the DHT simulator (src/sim). */
#include "cli.h"
#include "sim/sim_main.h"

int stage__cli_sim(int argc, char **argv) {
    return stage__sim_main(argc, argv);
}
