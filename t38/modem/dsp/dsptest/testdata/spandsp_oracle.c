/* Test oracle: spandsp's V.21 channel 2 (FSK) and V.27 ter modems behind a
 * line protocol, for the tests of t38/modem/v21 and t38/modem/v27ter.
 * Samples travel in files of raw little-endian int16 at 8 kHz.
 *
 *   tx <v21|v27ter> <rate> <level dBm0> <bits file of '0'/'1'> <samples out>
 *       -> "ok <samples>"
 *   rx <v21|v27ter> <rate> <samples in> <events out>
 *       events: '0'/'1' per bit, 'U' carrier up, 'T' trained, 'D' carrier down
 *       -> "ok <bits>"
 * The rate is ignored for V.21 (300 bit/s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <spandsp.h>

struct src {
    const char *bits;
    size_t n, pos;
};

static int get_bit(void *user)
{
    struct src *s = user;
    if (s->pos >= s->n)
        return SIG_STATUS_END_OF_DATA;
    return s->bits[s->pos++] == '1';
}

struct sink {
    FILE *f;
    long bits;
};

static void put_bit(void *user, int bit)
{
    struct sink *s = user;
    if (bit == SIG_STATUS_CARRIER_UP)
        fputc('U', s->f);
    else if (bit == SIG_STATUS_TRAINING_SUCCEEDED)
        fputc('T', s->f);
    else if (bit == SIG_STATUS_CARRIER_DOWN)
        fputc('D', s->f);
    else if (bit >= 0) {
        fputc(bit ? '1' : '0', s->f);
        s->bits++;
    }
}

static char line[4096];

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    return b;
}

int main(void)
{
    while (fgets(line, sizeof(line), stdin)) {
        char m[16], a[1024], b[1024];
        float level;
        int rate;
        if (sscanf(line, "tx %15s %d %f %1023s %1023s", m, &rate, &level, a, b) == 5) {
            int v21 = strcmp(m, "v21") == 0;
            struct src s = {0};
            s.bits = slurp(a, &s.n);
            FILE *out = fopen(b, "wb");
            if (!s.bits || !out) {
                printf("error files\n");
                fflush(stdout);
                continue;
            }
            fsk_tx_state_t *ftx = NULL;
            v27ter_tx_state_t *vtx = NULL;
            if (v21) {
                ftx = fsk_tx_init(NULL, &preset_fsk_specs[FSK_V21CH2], get_bit, &s);
                fsk_tx_power(ftx, level);
            } else {
                vtx = v27ter_tx_init(NULL, rate, FALSE, get_bit, &s);
                v27ter_tx_power(vtx, level);
            }
            int16_t amp[160];
            long total = 0;
            int n;
            do {
                n = v21 ? fsk_tx(ftx, amp, 160) : v27ter_tx(vtx, amp, 160);
                fwrite(amp, sizeof(int16_t), n, out);
                total += n;
            } while (n == 160);
            fclose(out);
            if (v21)
                fsk_tx_free(ftx);
            else
                v27ter_tx_free(vtx);
            free((void *) s.bits);
            printf("ok %ld\n", total);
        } else if (sscanf(line, "rx %15s %d %1023s %1023s", m, &rate, a, b) == 4) {
            size_t n;
            char *raw = slurp(a, &n);
            struct sink s = {fopen(b, "wb"), 0};
            if (!raw || !s.f) {
                printf("error files\n");
                fflush(stdout);
                continue;
            }
            if (strcmp(m, "v21") == 0) {
                fsk_rx_state_t *rx = fsk_rx_init(NULL, &preset_fsk_specs[FSK_V21CH2], FSK_FRAME_MODE_SYNC, put_bit, &s);
                fsk_rx(rx, (const int16_t *) raw, n / 2);
                fsk_rx_free(rx);
            } else {
                v27ter_rx_state_t *rx = v27ter_rx_init(NULL, rate, put_bit, &s);
                v27ter_rx(rx, (const int16_t *) raw, n / 2);
                v27ter_rx_free(rx);
            }
            fclose(s.f);
            free(raw);
            printf("ok %ld\n", s.bits);
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    return 0;
}
