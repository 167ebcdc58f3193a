/* Test oracle: spandsp's modem connect tone generator and detector.
 * Samples travel in files of raw little-endian int16 at 8 kHz.
 *
 *   tx <tone type> <samples> <samples out>   -> "ok"
 *   rx <tone type> <samples in>
 *       -> "tone <code> <samples fed>" per report, then "ok"
 * Tone types are spandsp's MODEM_CONNECT_TONES_* numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <spandsp.h>

static long fed;

static void report(void *user, int code, int level, int delay)
{
    (void) user;
    (void) level;
    (void) delay;
    printf("tone %d %ld\n", code, fed);
}

int main(void)
{
    char line[4096];
    while (fgets(line, sizeof(line), stdin)) {
        char path[1024];
        int type;
        long n;
        if (sscanf(line, "tx %d %ld %1023s", &type, &n, path) == 3) {
            modem_connect_tones_tx_state_t *tx = modem_connect_tones_tx_init(NULL, type);
            FILE *out = fopen(path, "wb");
            int16_t amp[160];
            while (n > 0) {
                int k = n < 160 ? (int) n : 160;
                k = modem_connect_tones_tx(tx, amp, k);
                if (k <= 0)
                    break;
                fwrite(amp, sizeof(int16_t), k, out);
                n -= k;
            }
            fclose(out);
            modem_connect_tones_tx_free(tx);
            printf("ok\n");
        } else if (sscanf(line, "rx %d %1023s", &type, path) == 2) {
            modem_connect_tones_rx_state_t *rx = modem_connect_tones_rx_init(NULL, type, report, NULL);
            FILE *in = fopen(path, "rb");
            int16_t amp[80];
            size_t k;
            fed = 0;
            while (in && (k = fread(amp, sizeof(int16_t), 80, in)) > 0) {
                modem_connect_tones_rx(rx, amp, (int) k);
                fed += (long) k;
            }
            if (in)
                fclose(in);
            modem_connect_tones_rx_free(rx);
            printf("ok\n");
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    return 0;
}
