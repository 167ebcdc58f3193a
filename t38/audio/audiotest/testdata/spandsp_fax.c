/* Test peer: spandsp's audio fax terminal (fax_init/fax_rx/fax_tx) in lock
 * step over pipes. Each block: the test writes N little-endian int16
 * samples to stdin, the peer feeds them to fax_rx and answers with N
 * samples from fax_tx on stdout. At end of input it prints one line to
 * stderr (after a line "phase_e <code>" when the call ends):
 *   result <phase E code> pages <transferred> rate <bit rate> ecm <0|1> cpu_us <CPU in fax_rx+fax_tx>
 *
 *   spandsp_fax <calling 0|1> <send tiff | -> <receive tiff> <ecm 0|1> <modems: v27 | v27v29 | v27v29v17> <block> [log]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <spandsp.h>

static int phase_e_code = -1;

static void phase_e(t30_state_t *s, void *user, int code)
{
    (void) s;
    (void) user;
    if (phase_e_code < 0)
        phase_e_code = code;
    /* Tells a driver that does not know the call's length that it is over. */
    fprintf(stderr, "phase_e %d\n", code);
    fflush(stderr);
}

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: spandsp_fax calling send recv ecm modems block [log]\n");
        return 2;
    }
    int calling = atoi(argv[1]);
    const char *send = argv[2], *recv = argv[3];
    int ecm = atoi(argv[4]);
    int modems = T30_SUPPORT_V27TER;
    if (strncmp(argv[5], "v27v29", 6) == 0)
        modems |= T30_SUPPORT_V29;
    if (strcmp(argv[5], "v27v29v17") == 0)
        modems |= T30_SUPPORT_V17;
    int block = atoi(argv[6]);
    if (block <= 0 || block > 8000)
        return 2;

    fax_state_t *fax = fax_init(NULL, calling);
    if (!fax)
        return 3;
    fax_set_transmit_on_idle(fax, 1);
    t30_state_t *t30 = fax_get_t30_state(fax);
    t30_set_tx_ident(t30, calling ? "spandsp caller" : "spandsp answerer");
    t30_set_ecm_capability(t30, ecm);
    t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION
                                   | (ecm ? T30_SUPPORT_T6_COMPRESSION : 0));
    t30_set_supported_modems(t30, modems);
    t30_set_phase_e_handler(t30, phase_e, NULL);
    if (strcmp(send, "-") != 0)
        t30_set_tx_file(t30, send, -1, -1);
    else
        t30_set_rx_file(t30, recv, -1);
    if (argc > 7) {
        int level = SPAN_LOG_SHOW_SEVERITY | SPAN_LOG_SHOW_PROTOCOL | SPAN_LOG_FLOW;
        span_log_set_level(t30_get_logging_state(t30), level);
        span_log_set_level(fax_get_logging_state(fax), level);
    }

    int16_t *in = calloc(block, sizeof(int16_t)), *out = calloc(block, sizeof(int16_t));
    int64_t cpu = 0;
    for (;;) {
        size_t got = fread(in, sizeof(int16_t), block, stdin);
        if (got < (size_t) block)
            break;
        int64_t t0 = cpu_us();
        fax_rx(fax, in, block);
        int n = fax_tx(fax, out, block);
        cpu += cpu_us() - t0;
        if (n < block)
            memset(out + n, 0, (block - n) * sizeof(int16_t));
        if (fwrite(out, sizeof(int16_t), block, stdout) != (size_t) block)
            break;
        fflush(stdout);
    }
    t30_stats_t st;
    t30_get_transfer_statistics(t30, &st);
    fprintf(stderr, "result %d pages %d rate %d ecm %d cpu_us %lld\n", phase_e_code,
            strcmp(send, "-") != 0 ? st.pages_tx : st.pages_rx, st.bit_rate, st.error_correcting_mode,
            (long long) cpu);
    fax_free(fax);
    return 0;
}
