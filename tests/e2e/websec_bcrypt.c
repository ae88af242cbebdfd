/*
 * websec_bcrypt.c - prints a bcrypt hash ($2b$, cost 5) of argv[1] with
 * libcrypt, for tests/e2e/websec.sh (Debian has no bcrypt command line
 * tool in the packages CI installs; python3's crypt module is deprecated).
 * Built by the test itself: cc -o websec_bcrypt websec_bcrypt.c -lcrypt
 */
#include <crypt.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: websec_bcrypt PASSWORD\n");
        return 2;
    }
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    static struct crypt_data cd;
    if (!crypt_gensalt_rn("$2b$", 5, NULL, 0, setting, sizeof setting)) return 1;
    const char *h = crypt_r(argv[1], setting, &cd);
    if (!h || h[0] == '*') return 1;
    puts(h);
    return 0;
}
