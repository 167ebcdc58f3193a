/* Test oracle: spandsp's V.21 channel 2 FSK modem behind a line protocol.
 * Samples travel in files of raw little-endian int16 at 8 kHz.
 *
 *   tx <level dBm0> <bits file of '0'/'1'> <samples out>
 *       -> "ok <samples>"
 *   rx <samples in> <events out>
 *       events: '0'/'1' per bit, 'U' carrier up, 'D' carrier down
 *       -> "ok <bits>"
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
        char a[1024], b[1024];
        float level;
        if (sscanf(line, "tx %f %1023s %1023s", &level, a, b) == 3) {
            struct src s = {0};
            s.bits = slurp(a, &s.n);
            FILE *out = fopen(b, "wb");
            if (!s.bits || !out) {
                printf("error files\n");
                fflush(stdout);
                continue;
            }
            fsk_tx_state_t *tx = fsk_tx_init(NULL, &preset_fsk_specs[FSK_V21CH2], get_bit, &s);
            fsk_tx_power(tx, level);
            int16_t amp[160];
            long total = 0;
            int n;
            do {
                n = fsk_tx(tx, amp, 160);
                fwrite(amp, sizeof(int16_t), n, out);
                total += n;
            } while (n == 160);
            fclose(out);
            fsk_tx_free(tx);
            free((void *) s.bits);
            printf("ok %ld\n", total);
        } else if (sscanf(line, "rx %1023s %1023s", a, b) == 2) {
            size_t n;
            char *raw = slurp(a, &n);
            struct sink s = {fopen(b, "wb"), 0};
            if (!raw || !s.f) {
                printf("error files\n");
                fflush(stdout);
                continue;
            }
            fsk_rx_state_t *rx = fsk_rx_init(NULL, &preset_fsk_specs[FSK_V21CH2], FSK_FRAME_MODE_SYNC, put_bit, &s);
            fsk_rx(rx, (const int16_t *) raw, n / 2);
            fclose(s.f);
            fsk_rx_free(rx);
            free(raw);
            printf("ok %ld\n", s.bits);
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    return 0;
}
