#include <stdio.h>
#include "ctl.h"
int ctl_xdp_main(int argc, char **argv) { fprintf(stderr, "backstopctl xdp: not built yet\n"); return 2; }
int ctl_verdict_main(int argc, char **argv) { fprintf(stderr, "backstopctl verdict: not built yet\n"); return 2; }
int ctl_allow_main(int argc, char **argv) { fprintf(stderr, "backstopctl allow: not built yet\n"); return 2; }
