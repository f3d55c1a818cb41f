/* backstopctl stats: the running dataplane's live counters, read through
 * DPDK telemetry (a SOCK_SEQPACKET socket under /var/run/dpdk/<prefix>/).
 * backstop's default file prefix is "backstop<pid>", so the socket of a
 * running instance is found by scanning for those directories. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "ctl.h"

#define RUN_DIR "/var/run/dpdk"
#define SOCK_NAME "dpdk_telemetry.v2"

static int tel_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	char buf[1024];
	if (read(fd, buf, sizeof(buf)) <= 0) { /* the greeting: version, pid, max_output_len */
		close(fd);
		return -1;
	}
	return fd;
}

static int tel_query(int fd, const char *cmd)
{
	static char buf[1 << 16];
	if (write(fd, cmd, strlen(cmd)) < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	printf("%s\n", buf);
	return 0;
}

/* Finds live backstop telemetry sockets; returns how many, path of the first. */
static int find_sockets(char *first, size_t len)
{
	DIR *d = opendir(RUN_DIR);
	struct dirent *e;
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[512];
		if (strncmp(e->d_name, "backstop", 8))
			continue;
		snprintf(path, sizeof(path), RUN_DIR "/%s/" SOCK_NAME, e->d_name);
		int fd = tel_connect(path);
		if (fd < 0)
			continue;
		close(fd);
		if (n++ == 0)
			snprintf(first, len, "%s", path);
		else
			fprintf(stderr, "backstopctl: also running: %s\n", path);
	}
	closedir(d);
	return n;
}

int ctl_stats_main(int argc, char **argv)
{
	char path[512] = "";
	const char *what = "all";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc) {
			snprintf(path, sizeof(path), RUN_DIR "/backstop%s/" SOCK_NAME, argv[++i]);
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			snprintf(path, sizeof(path), "%s", argv[++i]);
		} else if (!strcmp(argv[i], "pipeline") || !strcmp(argv[i], "detect") || !strcmp(argv[i], "enforcer")) {
			what = argv[i];
		} else {
			fprintf(stderr, "usage: backstopctl stats [pipeline|detect|enforcer] [--pid PID | --socket PATH]\n");
			return 2;
		}
	}
	if (!path[0]) {
		int n = find_sockets(path, sizeof(path));
		if (n == 0) {
			fprintf(stderr, "backstopctl: no running backstop found under %s (is it running, with telemetry?)\n",
				RUN_DIR);
			return 1;
		}
		if (n > 1) {
			fprintf(stderr, "backstopctl: %d instances running: choose one with --pid\n", n);
			return 1;
		}
	}
	int fd = tel_connect(path);
	if (fd < 0) {
		fprintf(stderr, "backstopctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	int rc = 0;
	if (!strcmp(what, "all") || !strcmp(what, "pipeline"))
		rc |= tel_query(fd, "/backstop/stats");
	if (!strcmp(what, "all") || !strcmp(what, "detect"))
		rc |= tel_query(fd, "/backstop/detect");
	if (!strcmp(what, "all") || !strcmp(what, "enforcer"))
		rc |= tel_query(fd, "/backstop/enforcer");
	close(fd);
	return rc ? 1 : 0;
}
