#include <stdio.h>
#include "ctl.h"
int ctl_rules_main(int argc, char **argv) { fprintf(stderr, "backstopctl rules: not built yet\n"); return 2; }
