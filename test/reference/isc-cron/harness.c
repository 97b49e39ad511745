/*
 * The reference for Cronium's schedules: ISC/Vixie cron's own scheduling loop (Debian's
 * cron 3.0pl1, cron.c compiled unchanged with its main renamed) run against a simulated
 * clock. Only the outside world is replaced: time() and sleep() read and advance the
 * simulated clock, load_database() parses one crontab with cron's own entry.c, and
 * job_add() prints "<command> <unix seconds>" instead of queueing a job. Cron's entry
 * parser, find_jobs(), its DST rules (wildcard vs fixed-time jobs, catch-up after a jump
 * forward, no repeats after a jump back) and its DOM/DOW rule are cron's own code.
 *
 *   CRON_SIM_TAB=crontab CRON_SIM_START=<unix s> CRON_SIM_END=<unix s> TZ=Zone ./cron-sim
 *
 * Not modelled: the 10-second pause cron takes after starting jobs in a catch-up loop (jobs
 * start instantly here), and job_add's duplicate suppression across queue runs (a job
 * caught up for two skipped minutes prints twice at the same second; compare distinct
 * (command, minute) pairs).
 */
#include "cron.h"

static time_t sim_now, sim_end;
static int started;

time_t h_time(time_t *t) {
	if (t) *t = sim_now;
	return sim_now;
}

unsigned int h_sleep(unsigned int s) {
	sim_now += s;
	if (sim_now > sim_end) {
		fflush(stdout);
		exit(0);
	}
	return 0;
}

typedef struct pending { struct pending *next; entry *e; } pending;
static pending *queue;

void h_job_add(entry *e, user *u) {
	pending *p;
	(void)u;
	for (p = queue; p; p = p->next)
		if (p->e == e) return;
	p = calloc(1, sizeof *p);
	p->e = e;
	p->next = queue;
	queue = p;
	printf("%s %ld\n", e->cmd, (long)sim_now);
}

int h_job_runqueue(void) {
	while (queue) {
		pending *n = queue->next;
		free(queue);
		queue = n;
	}
	return 0; /* jobs start instantly: no 10-second pause */
}

static void parse_error(char *msg) {
	fprintf(stderr, "cron-sim: crontab line rejected by cron: %s\n", msg);
	exit(3);
}

void h_load_database(cron_db *db) {
	FILE *f;
	user *u;
	entry *e;
	char **envp;
	struct passwd *pw;
	const char *tab = getenv("CRON_SIM_TAB");
	if (started) return;
	started = 1;
	if (!tab || !(f = fopen(tab, "r"))) {
		fprintf(stderr, "cron-sim: set CRON_SIM_TAB to a readable crontab\n");
		exit(2);
	}
	pw = getpwuid(getuid());
	envp = env_init();
	u = calloc(1, sizeof *u);
	u->name = strdup("sim");
	while ((e = load_entry(f, parse_error, pw, envp)) != NULL) {
		e->next = u->crontab;
		u->crontab = e;
	}
	if (!feof(f)) parse_error("stopped before the end");
	fclose(f);
	db->head = db->tail = u;
}

void h_lock(int x) { (void)x; }
void h_uid(void) {}
void h_cwd(void) {}
void h_log_it(char *a, int b, char *c, char *d) { (void)a; (void)b; (void)c; (void)d; }
int h_access(const char *p, int m) { (void)p; (void)m; return 0; /* no @reboot run */ }
int h_creat(const char *p, mode_t m) { (void)p; (void)m; return -1; }
void h_check_orphans(cron_db *db) { (void)db; }

int cron_main(int, char **);

int main(void) {
	char *argv[] = { "cron", "-f", NULL };
	const char *s = getenv("CRON_SIM_START"), *e = getenv("CRON_SIM_END");
	if (!s || !e) {
		fprintf(stderr, "cron-sim: set CRON_SIM_START and CRON_SIM_END (unix seconds)\n");
		return 2;
	}
	sim_now = (time_t)atoll(s);
	sim_end = (time_t)atoll(e);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	return cron_main(2, argv);
}
