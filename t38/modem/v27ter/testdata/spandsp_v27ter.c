/* Test oracle: spandsp's V.27 ter modem behind a line protocol.
 * Samples travel in files of raw little-endian int16 at 8 kHz.
 *
 *   tx <rate> <level dBm0> <bits file of '0'/'1'> <samples out>
 *       -> "ok <samples>"
 *   rx <rate> <samples in> <events out>
 *       events: '0'/'1' per bit, 'U' carrier up, 'T' trained, 'D' carrier down
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
        char a[1024], b[1024];
        float level;
        int rate;
        if (sscanf(line, "tx %d %f %1023s %1023s", &rate, &level, a, b) == 4) {
            struct src s = {0};
            s.bits = slurp(a, &s.n);
            FILE *out = fopen(b, "wb");
            if (!s.bits || !out) {
                printf("error files\n");
                fflush(stdout);
                continue;
            }
            v27ter_tx_state_t *tx = v27ter_tx_init(NULL, rate, FALSE, get_bit, &s);
            v27ter_tx_power(tx, level);
            int16_t amp[160];
            long total = 0;
            int n;
            do {
                n = v27ter_tx(tx, amp, 160);
                fwrite(amp, sizeof(int16_t), n, out);
                total += n;
            } while (n == 160);
            fclose(out);
            v27ter_tx_free(tx);
            free((void *) s.bits);
            printf("ok %ld\n", total);
        } else if (sscanf(line, "rx %d %1023s %1023s", &rate, a, b) == 3) {
            size_t n;
            char *raw = slurp(a, &n);
            struct sink s = {fopen(b, "wb"), 0};
            if (!raw || !s.f) {
                printf("error files\n");
                fflush(stdout);
                continue;
            }
            v27ter_rx_state_t *rx = v27ter_rx_init(NULL, rate, put_bit, &s);
            v27ter_rx(rx, (const int16_t *) raw, n / 2);
            fclose(s.f);
            v27ter_rx_free(rx);
            free(raw);
            printf("ok %ld\n", s.bits);
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    return 0;
}
