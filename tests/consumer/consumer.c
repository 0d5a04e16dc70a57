/* consumer.c: the smallest program using an installed clattn: version, a sized descriptor and a
 * context. */
#include <clattn.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    if (strcmp(clattn_version_string(), CLATTN_VERSION_STRING) != 0) return 1;
    clattn_sdpa_desc d;
    if (clattn_sdpa_desc_init(&d, sizeof d) != CLATTN_SUCCESS || d.struct_size != sizeof d)
        return 1;
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(NULL, &ctx);
    printf("consumer: clattn %s, context: %s\n", clattn_version_string(), clattn_status_string(st));
    clattn_context_destroy(ctx);
    return st == CLATTN_SUCCESS ? 0 : 1;
}
