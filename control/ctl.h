/* backstopctl command groups: each takes the arguments after its group word
 * (argv[0] is the group word) and returns the process exit code. */
#ifndef BS_CTL_H
#define BS_CTL_H
int ctl_rules_main(int argc, char **argv);   /* rules check|compile|dump */
int ctl_xdp_main(int argc, char **argv);     /* xdp attach|detach|status|stats */
int ctl_verdict_main(int argc, char **argv); /* verdict add|del|list|flush */
int ctl_allow_main(int argc, char **argv);   /* allow add|del|list */
int ctl_stats_main(int argc, char **argv);   /* stats of the running dataplane */
#endif
