/*
 * libtiffbench: the libtiff side of faxd's codec benchmark.
 *
 *   libtiffbench pages.pbm iterations [page coding]
 *
 * The environment variable YRES (default 196) sets the pages' vertical
 * resolution.
 *
 * reads concatenated binary PBM (P4) pages and, for each page and each
 * coding (g3 1-D, g3 2-D, g4), times libtiff encoding the page into an
 * in-memory TIFF and decoding it back, iterations times each. It prints
 *   page coding encode_ns_per_page decode_ns_per_page strip_bytes
 * (each the best of 5 rounds of iterations) one line each, or only for
 * the given page (0-based) and coding (MH, MR or MMR). DUMPDIR in the
 * environment also writes each coded strip there as page<N>.<coding>. The TIFF container work (a few tags in memory) is a
 * negligible share of a page's coding time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tiffio.h>

typedef struct {
    unsigned char *buf;
    toff_t size, cap, pos;
} memfile;

static tsize_t mread(thandle_t h, tdata_t p, tsize_t n) {
    memfile *m = (memfile *)h;
    if (m->pos >= m->size) return 0;
    if ((toff_t)n > m->size - m->pos) n = (tsize_t)(m->size - m->pos);
    memcpy(p, m->buf + m->pos, n);
    m->pos += n;
    return n;
}

static tsize_t mwrite(thandle_t h, tdata_t p, tsize_t n) {
    memfile *m = (memfile *)h;
    if (m->pos + n > m->cap) {
        toff_t c = (m->pos + n) * 2;
        m->buf = realloc(m->buf, c);
        m->cap = c;
    }
    memcpy(m->buf + m->pos, p, n);
    m->pos += n;
    if (m->pos > m->size) m->size = m->pos;
    return n;
}

static toff_t mseek(thandle_t h, toff_t off, int whence) {
    memfile *m = (memfile *)h;
    if (whence == SEEK_CUR) off += m->pos;
    else if (whence == SEEK_END) off += m->size;
    m->pos = off;
    return off;
}

static int mclose(thandle_t h) { (void)h; return 0; }
static toff_t msize(thandle_t h) { return ((memfile *)h)->size; }
static int mmap_(thandle_t h, tdata_t *p, toff_t *s) { (void)h; (void)p; (void)s; return 0; }
static void munmap_(thandle_t h, tdata_t p, toff_t s) { (void)h; (void)p; (void)s; }

/* CPU time of the process, not wall time: on a shared machine time spent
 * descheduled is not the codec's (the Go side measures the same way). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void quiet(const char *m, const char *f, va_list ap) { (void)m; (void)f; (void)ap; }

/* encode writes one page into m with the given compression; returns the strip size. */
static int yres = 196;

#define ROUNDS 5

static long encode(memfile *m, unsigned char *pix, int w, int h, int comp, int opts) {
    m->size = m->pos = 0;
    TIFF *t = TIFFClientOpen("mem", "w", (thandle_t)m, mread, mwrite, mseek, mclose, msize, mmap_, munmap_);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
    TIFFSetField(t, TIFFTAG_COMPRESSION, comp);
    if (comp == COMPRESSION_CCITTFAX3) TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, opts);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
    TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
    /* The resolution picks libtiff's MR K (4 above 150 lines per inch). */
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, (double)yres);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    tsize_t n = TIFFWriteEncodedStrip(t, 0, pix, (tsize_t)((w + 7) / 8) * h);
    uint64_t *bc = NULL;
    long size = -1;
    if (n >= 0 && TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &bc)) size = (long)bc[0];
    TIFFClose(t);
    return size;
}

static int decode(memfile *m, unsigned char *out, tsize_t n) {
    m->pos = 0;
    TIFF *t = TIFFClientOpen("mem", "r", (thandle_t)m, mread, mwrite, mseek, mclose, msize, mmap_, munmap_);
    if (!t) return -1;
    tsize_t got = TIFFReadEncodedStrip(t, 0, out, n);
    TIFFClose(t);
    return got == n ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: %s pages.pbm iterations [page coding]\n", argv[0]);
        return 2;
    }
    int iters = atoi(argv[2]);
    if (getenv("YRES")) yres = atoi(getenv("YRES"));
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    TIFFSetWarningHandler(quiet);
    static const struct { const char *name; int comp, opts; } codings[] = {
        {"MH", COMPRESSION_CCITTFAX3, 0},
        {"MR", COMPRESSION_CCITTFAX3, GROUP3OPT_2DENCODING},
        {"MMR", COMPRESSION_CCITTFAX4, 0},
    };
    memfile m = {0};
    int page = 0, w, h;
    while (fscanf(f, " P4 %d %d", &w, &h) == 2) {
        fgetc(f); /* the single whitespace after the header */
        tsize_t n = (tsize_t)((w + 7) / 8) * h;
        unsigned char *pix = malloc(n), *out = malloc(n);
        if (fread(pix, 1, n, f) != (size_t)n) { fprintf(stderr, "short page\n"); return 1; }
        for (int c = 0; c < 3; c++) {
            if (argc == 5 && (atoi(argv[3]) != page || strcmp(argv[4], codings[c].name) != 0)) continue;
            /* The best of ROUNDS rounds: on a shared machine the minimum
             * is the figure least disturbed by other work. */
            long size = 0;
            double enc = 1e300, dec = 1e300;
            for (int r = 0; r < ROUNDS; r++) {
                double t0 = now();
                for (int i = 0; i < iters; i++) size = encode(&m, pix, w, h, codings[c].comp, codings[c].opts);
                double t = (now() - t0) / iters;
                if (t < enc) enc = t;
            }
            if (size < 0) { fprintf(stderr, "encode failed\n"); return 1; }
            for (int r = 0; r < ROUNDS; r++) {
                double t0 = now();
                for (int i = 0; i < iters; i++) {
                    if (decode(&m, out, n) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
                }
                double t = (now() - t0) / iters;
                if (t < dec) dec = t;
            }
            if (memcmp(out, pix, n) != 0) { fprintf(stderr, "page %d %s: pixels differ\n", page, codings[c].name); return 1; }
            if (getenv("DUMPDIR")) {
                char path[4096];
                snprintf(path, sizeof path, "%s/page%d.%s", getenv("DUMPDIR"), page, codings[c].name);
                m.pos = 0;
                TIFF *t = TIFFClientOpen("mem", "r", (thandle_t)&m, mread, mwrite, mseek, mclose, msize, mmap_, munmap_);
                unsigned char *raw = malloc(size);
                FILE *o = fopen(path, "wb");
                if (!t || !o || TIFFReadRawStrip(t, 0, raw, size) != size || fwrite(raw, 1, size, o) != (size_t)size) {
                    fprintf(stderr, "dump %s failed\n", path);
                    return 1;
                }
                fclose(o);
                TIFFClose(t);
                free(raw);
            }
            printf("%d %s %.0f %.0f %ld\n", page, codings[c].name, enc, dec, size);
        }
        free(pix);
        free(out);
        page++;
    }
    return 0;
}
