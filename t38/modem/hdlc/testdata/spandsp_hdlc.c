/* Test oracle: spandsp's HDLC framer and deframer behind a line protocol.
 *
 *   tx <preamble flags> <hex frame> [<hex frame>...]
 *       -> "bits <0/1 string>": the bits spandsp sends for the frames
 *   rx <0/1 string>
 *       -> "frame <hex> ok|bad" lines, then "end"
 *   fcs <hex>
 *       -> "fcs <hex, low octet first>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <spandsp.h>

static int unhex(const char *s, uint8_t *out, int max)
{
    int n = 0;
    while (s[0] && s[1] && n < max) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t) v;
        s += 2;
    }
    return n;
}

static void rx_frame(void *user, const uint8_t *msg, int len, int ok)
{
    (void) user;
    if (len < 0)
        return; /* status reports */
    printf("frame ");
    for (int i = 0; i < len; i++)
        printf("%02x", msg[i]);
    printf(" %s\n", ok ? "ok" : "bad");
}

static char line[1 << 20];

int main(void)
{
    uint8_t buf[4096];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, "fcs ", 4) == 0) {
            int n = unhex(line + 4, buf, sizeof(buf) - 2);
            n = crc_itu16_append(buf, n);
            printf("fcs %02x%02x\n", buf[n - 2], buf[n - 1]);
        } else if (strncmp(line, "tx ", 3) == 0) {
            hdlc_tx_state_t *tx = hdlc_tx_init(NULL, FALSE, 1, FALSE, NULL, NULL);
            char *save = NULL;
            char *tok = strtok_r(line + 3, " ", &save);
            int preamble = atoi(tok);
            hdlc_tx_flags(tx, preamble);
            printf("bits ");
            /* The transmitter holds one frame at a time: send bits until
               it takes the next. */
            while ((tok = strtok_r(NULL, " ", &save))) {
                int n = unhex(tok, buf, sizeof(buf));
                while (hdlc_tx_frame(tx, buf, n) < 0)
                    putchar(hdlc_tx_get_bit(tx) ? '1' : '0');
            }
            for (int i = 0; i < 8 * (sizeof(buf) + 8); i++)
                putchar(hdlc_tx_get_bit(tx) ? '1' : '0');
            printf("\n");
            hdlc_tx_free(tx);
        } else if (strncmp(line, "rx ", 3) == 0) {
            hdlc_rx_state_t *rx = hdlc_rx_init(NULL, FALSE, TRUE, 2, rx_frame, NULL);
            for (const char *p = line + 3; *p; p++)
                hdlc_rx_put_bit(rx, *p == '1');
            printf("end\n");
            hdlc_rx_free(rx);
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    return 0;
}
