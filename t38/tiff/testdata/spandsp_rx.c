/*
 * spandsp_rx: receive one page of raw T.4 data with spandsp's T.4
 * receiver and let it write the TIFF it would store for a real fax.
 *
 *   spandsp_rx in.t4 out.tif 1d|2d|t6 width yres(fine|standard)
 *
 * in.t4 holds the page bits in line order (LSB first in each octet), as
 * a modem or T.38 delivers them. spandsp stores MR with fill bits and
 * FillOrder 2, the file faxd must read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <spandsp.h>

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s in.t4 out.tif 1d|2d|t6 width fine|standard\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    static uint8_t buf[1 << 24];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int enc = T4_COMPRESSION_ITU_T4_2D;
    if (strcmp(argv[3], "1d") == 0) enc = T4_COMPRESSION_ITU_T4_1D;
    if (strcmp(argv[3], "t6") == 0) enc = T4_COMPRESSION_ITU_T6;
    /* spandsp writes received pages as T.4 2-D whatever arrived. */
    t4_rx_state_t *s = t4_rx_init(NULL, argv[2], T4_COMPRESSION_ITU_T4_2D);
    if (!s) { fprintf(stderr, "t4_rx_init failed\n"); return 1; }
    t4_rx_set_rx_encoding(s, enc);
    t4_rx_set_image_width(s, atoi(argv[4]));
    t4_rx_set_x_resolution(s, T4_X_RESOLUTION_R8);
    t4_rx_set_y_resolution(s, strcmp(argv[5], "fine") == 0 ? T4_Y_RESOLUTION_FINE : T4_Y_RESOLUTION_STANDARD);
    t4_rx_set_far_ident(s, "faxd test");
    if (t4_rx_start_page(s) != 0) { fprintf(stderr, "start page failed\n"); return 1; }
    int ended = t4_rx_put_chunk(s, buf, (int)n);
    t4_rx_end_page(s);
    t4_stats_t st;
    t4_rx_get_transfer_statistics(s, &st);
    printf("ended=%d pages=%d width=%d length=%d bad_rows=%d\n", ended, st.pages_transferred, st.width, st.length, st.bad_rows);
    t4_rx_free(s);
    return 0;
}
