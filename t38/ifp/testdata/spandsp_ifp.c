/* spandsp_ifp: drive the installed spandsp T.38 core as an IFP oracle.
 *
 * Reads commands from stdin, one per line, and answers each with one line:
 *   tx <version> ind <indicator>
 *       -> "ok <hex of every packet the tx handler got, comma separated>" or "err"
 *   tx <version> data <data_type> <field_type>[:<hex>] [<field_type>[:<hex>] ...]
 *       -> same; one field uses t38_core_send_data, more use _multi_field
 *   rx <version> <hex>
 *       -> "ok <events>" / "err <events>": events are "ind=<n>" and
 *          "data=<type>/<field>:<hex>" as the rx handlers saw them
 * A fresh core is used per line so no state (current indicator, seq) leaks.
 * Built and run by ifp_spandsp_test.go. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <spandsp.h>

static char out[65536];
static size_t outlen;

static void emit(const char *fmt, const uint8_t *buf, int len)
{
    int i;
    outlen += snprintf(out + outlen, sizeof(out) - outlen, "%s", fmt);
    for (i = 0; i < len && outlen + 3 < sizeof(out); i++)
        outlen += snprintf(out + outlen, sizeof(out) - outlen, "%02x", buf[i]);
}

static int tx_handler(t38_core_state_t *s, void *user, const uint8_t *buf, int len, int count)
{
    emit(outlen ? "," : "", buf, len);
    return 0;
}

static int rx_ind(t38_core_state_t *s, void *user, int indicator)
{
    outlen += snprintf(out + outlen, sizeof(out) - outlen, "%sind=%d", outlen ? " " : "", indicator);
    return 0;
}

static int rx_data(t38_core_state_t *s, void *user, int data_type, int field_type, const uint8_t *buf, int len)
{
    char head[64];
    snprintf(head, sizeof(head), "%sdata=%d/%d:", outlen ? " " : "", data_type, field_type);
    emit(head, buf, buf ? len : 0);
    return 0;
}

static int rx_missing(t38_core_state_t *s, void *user, int rx_seq_no, int expected_seq_no)
{
    return 0;
}

static int unhex(const char *h, uint8_t *buf, int max)
{
    int n = 0;
    unsigned v;
    while (h[0] && h[1] && n < max) {
        if (sscanf(h, "%2x", &v) != 1)
            return -1;
        buf[n++] = (uint8_t) v;
        h += 2;
    }
    return n;
}

int main(void)
{
    static char line[200000];
    static uint8_t data[16][8192];
    t38_data_field_t fields[16];
    char *tok, *save;
    int version, rc, n;
    uint8_t pkt[65536];

    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin)) {
        t38_core_state_t *core;
        line[strcspn(line, "\r\n")] = 0;
        outlen = 0;
        out[0] = 0;
        core = t38_core_init(NULL, rx_ind, rx_data, rx_missing, NULL, tx_handler, NULL);
        if (core == NULL)
            return 1;
        tok = strtok_r(line, " ", &save);
        if (tok == NULL)
            continue;
        if (strcmp(tok, "tx") == 0) {
            version = atoi(strtok_r(NULL, " ", &save));
            t38_set_t38_version(core, version);
            tok = strtok_r(NULL, " ", &save);
            if (strcmp(tok, "ind") == 0) {
                rc = t38_core_send_indicator(core, atoi(strtok_r(NULL, " ", &save)));
            } else {
                int dtype = atoi(strtok_r(NULL, " ", &save));
                n = 0;
                while ((tok = strtok_r(NULL, " ", &save)) != NULL && n < 16) {
                    char *colon = strchr(tok, ':');
                    fields[n].field_type = atoi(tok);
                    fields[n].field = NULL;
                    fields[n].field_len = 0;
                    if (colon) {
                        fields[n].field_len = unhex(colon + 1, data[n], sizeof(data[n]));
                        fields[n].field = data[n];
                    }
                    n++;
                }
                if (n == 1)
                    rc = t38_core_send_data(core, dtype, fields[0].field_type, fields[0].field, fields[0].field_len, T38_PACKET_CATEGORY_CONTROL_DATA);
                else
                    rc = t38_core_send_data_multi_field(core, dtype, fields, n, T38_PACKET_CATEGORY_CONTROL_DATA);
            }
            printf("%s %s\n", (rc < 0) ? "err" : "ok", out);
        } else if (strcmp(tok, "rx") == 0) {
            version = atoi(strtok_r(NULL, " ", &save));
            t38_set_t38_version(core, version);
            tok = strtok_r(NULL, " ", &save);
            n = unhex(tok ? tok : "", pkt, sizeof(pkt));
            rc = t38_core_rx_ifp_packet(core, pkt, n, 1);
            printf("%s %s\n", (rc < 0) ? "err" : "ok", out);
        } else {
            printf("err unknown command\n");
        }
        t38_core_free(core);
    }
    return 0;
}
