/*
 * Test peer for faxd's soft modems: runs spandsp's V.29 or V.17 modem on
 * stdin/stdout so Go tests can check our modems against it.
 *
 *   spandsp_modem tx v29|v17 RATE [short] [tep]   bits ('0'/'1' bytes) in, s16le audio out
 *   spandsp_modem rx v29|v17 RATE [short]   s16le audio in, a byte stream out:
 *                                           '0'/'1' bits, 'U' carrier up,
 *                                           'T' trained, 'F' training failed,
 *                                           'D' carrier down
 *
 * With "short" (V.17 only) the transmitter sends the first half of the bits
 * after a long training and the second half, after 200 ms of silence, after
 * a short one; the receiver expects the same. With "tep" the transmitter
 * starts with talker echo protection (unmodulated carrier, then silence).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <spandsp.h>

static unsigned char *bits;
static size_t nbits, pos, stop;

static int get_bit(void *user_data)
{
    (void) user_data;
    if (pos >= stop)
        return SIG_STATUS_END_OF_DATA;
    return bits[pos++] & 1;
}

static int rx_short, is_v17, rate, trained_once;
static v17_rx_state_t *v17rx;

static void put_bit(void *user_data, int bit)
{
    (void) user_data;
    if (bit >= 0) {
        putchar(bit ? '1' : '0');
        return;
    }
    switch (bit) {
    case SIG_STATUS_CARRIER_UP: putchar('U'); break;
    case SIG_STATUS_TRAINING_SUCCEEDED: putchar('T'); trained_once = 1; break;
    case SIG_STATUS_TRAINING_FAILED: putchar('F'); break;
    case SIG_STATUS_CARRIER_DOWN:
        putchar('D');
        if (rx_short && is_v17 && trained_once)
            v17_rx_restart(v17rx, rate, 1);
        break;
    default: break;
    }
}

static void read_bits(void)
{
    size_t cap = 1 << 16;
    int c;
    bits = malloc(cap);
    while ((c = getchar()) != EOF) {
        if (c != '0' && c != '1')
            continue;
        if (nbits == cap)
            bits = realloc(bits, cap *= 2);
        bits[nbits++] = c == '1';
    }
}

static void write_samples(int16_t *amp, int n)
{
    fwrite(amp, sizeof(int16_t), n, stdout);
}

static void send_burst(void *tx, int n_short)
{
    int16_t amp[160];
    int n;
    (void) n_short;
    do {
        n = is_v17 ? v17_tx((v17_tx_state_t *) tx, amp, 160) : v29_tx((v29_tx_state_t *) tx, amp, 160);
        write_samples(amp, n);
    } while (n == 160);
}

int main(int argc, char **argv)
{
    int short_train = 0, tep = 0, i;
    if (argc < 4) {
        fprintf(stderr, "usage: %s tx|rx v29|v17 RATE [short]\n", argv[0]);
        return 2;
    }
    is_v17 = strcmp(argv[2], "v17") == 0;
    rate = atoi(argv[3]);
    for (i = 4;  i < argc;  i++) {
        if (strcmp(argv[i], "short") == 0)
            short_train = 1;
        else if (strcmp(argv[i], "tep") == 0)
            tep = 1;
    }
    if (strcmp(argv[1], "tx") == 0) {
        int16_t silence[1600];
        memset(silence, 0, sizeof(silence));
        read_bits();
        stop = short_train ? nbits / 2 : nbits;
        if (is_v17) {
            v17_tx_state_t *tx = v17_tx_init(NULL, rate, tep, get_bit, NULL);
            if (tx == NULL) return 1;
            send_burst(tx, 0);
            if (short_train) {
                write_samples(silence, 1600);
                stop = nbits;
                v17_tx_restart(tx, rate, tep, 1);
                send_burst(tx, 1);
            }
        } else {
            v29_tx_state_t *tx = v29_tx_init(NULL, rate, tep, get_bit, NULL);
            if (tx == NULL) return 1;
            send_burst(tx, 0);
        }
        fflush(stdout);
        return 0;
    }
    {
        int16_t amp[160];
        size_t n;
        v29_rx_state_t *v29rx = NULL;
        rx_short = short_train;
        if (is_v17)
            v17rx = v17_rx_init(NULL, rate, put_bit, NULL);
        else
            v29rx = v29_rx_init(NULL, rate, put_bit, NULL);
        if (v17rx == NULL && v29rx == NULL) return 1;
        while ((n = fread(amp, sizeof(int16_t), 160, stdin)) > 0) {
            if (is_v17)
                v17_rx(v17rx, amp, (int) n);
            else
                v29_rx(v29rx, amp, (int) n);
        }
        fflush(stdout);
    }
    return 0;
}
