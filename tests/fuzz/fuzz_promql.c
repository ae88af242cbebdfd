/*
 * fuzz_promql.c - libFuzzer target for the PromQL front end: any input
 * either fails with a positioned error, or parses to a tree whose printed
 * form (ast_dump) parses again and prints identically. Also exercises the
 * tree printer and, through ASan, every %destructor on error paths.
 */
#include "query/ast.h"
#include "query/parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ast_node *n = NULL, *again = NULL;
    pql_error err;
    int rc = pql_parse((const char *)data, size, &n, &err);
    if (rc != 0) {
        if (n || err.msg[0] == 0 || err.pos > size) abort();
        return 0;
    }
    fl_buf first = {0}, second = {0}, tree = {0};
    if (ast_dump(n, &first) || ast_dump_tree(n, &tree)) abort();
    if (pql_parse((const char *)first.data, first.len, &again, &err) != 0) {
        fprintf(stderr, "printed form does not parse:\n  %s\n  %s\n", (const char *)first.data, err.msg);
        abort();
    }
    if (ast_dump(again, &second)) abort();
    if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0) {
        fprintf(stderr, "printing is not stable:\n  %s\n  %s\n", (const char *)first.data, (const char *)second.data);
        abort();
    }
    fl_buf_free(&first);
    fl_buf_free(&second);
    fl_buf_free(&tree);
    ast_free(again);
    ast_free(n);
    return 0;
}
