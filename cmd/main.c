/*
 * main.c - the flint binary: dispatches `flint <command> ...`.
 */
#include "cmd/cmd.h"
#include "scrape/check.h"
#include "storage/err.h"
#include "web/webconfig.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: flint <command> [args]\n"
            "\n"
            "commands:\n"
            "  server                        run the server\n"
            "  import openmetrics FILE DIR   backfill blocks from an OpenMetrics file\n"
            "  query [--server URL | --data DIR] EXPR\n                                evaluate PromQL on a server or a data directory (read-only)\n"
            "  tsdb analyze DIR              blocks, series, samples, bytes per sample, cardinality\n"
            "  tsdb ls DIR                   list blocks\n"
            "  check config FILE             validate a prometheus.yml like promtool check config\n"
            "  check web-config FILE...      validate --web.config.file files (TLS, basic auth)\n"
            "  version                       print the version\n"
            "\n"
            "Run `flint <command> --help` for a command's flags.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("flint, version %s\n", FLINT_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "server")) return cmd_server(argc - 2, argv + 2);
    if (!strcmp(argv[1], "import")) return cmd_import(argc - 2, argv + 2);
    if (!strcmp(argv[1], "tsdb")) return cmd_tsdb(argc - 2, argv + 2);
    if (!strcmp(argv[1], "query")) return cmd_query(argc - 2, argv + 2);
    if (!strcmp(argv[1], "check")) {
        if (argc == 4 && !strcmp(argv[2], "config")) return scrape_check_config(argv[3], stdout) ? 1 : 0;
        if (argc >= 4 && !strcmp(argv[2], "web-config")) { /* promtool check web-config */
            int failed = 0;
            for (int i = 3; i < argc; i++) {
                web_config *wc;
                if (web_config_load(argv[i], &wc)) {
                    fprintf(stderr, "%s FAILED: %s\n", argv[i], flint_errmsg());
                    failed = 1;
                } else {
                    printf("%s SUCCESS\n", argv[i]);
                    web_config_free(wc);
                }
            }
            return failed;
        }
        fprintf(stderr, "usage: flint check config FILE\n       flint check web-config FILE...\n\nValidate a Prometheus "
                        "configuration file like `promtool check config`, or web configuration files\n(--web.config.file) "
                        "like `promtool check web-config`.\n");
        return argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) ? 0 : 2;
    }
    fprintf(stderr, "flint: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
