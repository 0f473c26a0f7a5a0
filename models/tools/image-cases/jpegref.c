/*
 * Reference JPEG decoder/encoder for the image tests, built on the system libjpeg-turbo (the
 * library Pillow uses). Not part of the build; see make_cases.sh.
 *
 *   jpegref decode in.jpg out.ppm
 *       Decodes with libjpeg's defaults as Pillow does (ISLOW IDCT, fancy upsampling; output
 *       colour space GRAYSCALE/RGB/CMYK by component count), then applies Pillow's convert("RGB"):
 *       gray replicated; CMYK treated as Adobe-inverted ("CMYK;I") and converted with
 *       cmyk2rgb. Writes a binary PPM.
 *   jpegref encode in.ppm out.jpg quality sampling progressive restart colorspace [baseline]
 *       sampling: "h0xv0,h1xv1,h2xv2[,h3xv3]"; progressive: 0, 1 (simple progression) or
 *       2 (sequential, one scan per component); restart: MCUs per interval (0 = none);
 *       colorspace: ycc, rgb, gray, cmyk, ycck (CMYK is made from RGB: C=255-R, M=255-G,
 *       Y=255-B, K=(x*7+y*13)%256); baseline 0 allows 16-bit quantisation tables.
 *   jpegref stdhuff
 *       Prints libjpeg's standard Huffman tables (JPEG spec Annex K.3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static unsigned char *read_ppm(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    int maxv;
    if (fscanf(f, "P6 %d %d %d", w, h, &maxv) != 3 || maxv != 255) { fprintf(stderr, "bad ppm\n"); exit(1); }
    fgetc(f);
    unsigned char *p = malloc((size_t)*w * *h * 3);
    if (fread(p, 3, (size_t)*w * *h, f) != (size_t)*w * *h) { fprintf(stderr, "short ppm\n"); exit(1); }
    fclose(f);
    return p;
}

static void write_ppm(const char *path, const unsigned char *rgb, int w, int h) {
    FILE *f = fopen(path, "wb");
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    fwrite(rgb, 3, (size_t)w * h, f);
    fclose(f);
}

static int muldiv255(int a, int b) { int t = a * b + 128; return ((t >> 8) + t) >> 8; }
static int clip8(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

static int decode(const char *in, const char *out) {
    FILE *f = fopen(in, "rb");
    if (!f) { perror(in); return 1; }
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    jpeg_stdio_src(&c, f);
    jpeg_read_header(&c, TRUE);
    int n = c.num_components;
    c.out_color_space = n == 1 ? JCS_GRAYSCALE : n == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_start_decompress(&c);
    int w = c.output_width, h = c.output_height, oc = c.output_components;
    unsigned char *row = malloc((size_t)w * oc), *rgb = malloc((size_t)w * h * 3);
    while (c.output_scanline < c.output_height) {
        int y = c.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&c, &rp, 1);
        for (int x = 0; x < w; x++) {
            unsigned char *o = rgb + ((size_t)y * w + x) * 3;
            if (oc == 1) { o[0] = o[1] = o[2] = row[x]; }
            else if (oc == 3) { memcpy(o, row + x * 3, 3); }
            else {
                int cc = 255 - row[x * 4], m = 255 - row[x * 4 + 1], yy = 255 - row[x * 4 + 2], k = 255 - row[x * 4 + 3];
                int nk = 255 - k;
                o[0] = clip8(nk - muldiv255(cc, nk));
                o[1] = clip8(nk - muldiv255(m, nk));
                o[2] = clip8(nk - muldiv255(yy, nk));
            }
        }
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    fclose(f);
    write_ppm(out, rgb, w, h);
    fprintf(stderr, "%s: %dx%d comps=%d jpeg_color_space=%d progressive=%d warnings=%ld\n", in, w, h, n,
            c.jpeg_color_space, c.progressive_mode, e.num_warnings);
    return 0;
}

static int encode(int argc, char **argv) {
    const char *in = argv[2], *out = argv[3];
    int quality = atoi(argv[4]);
    const char *sampling = argv[5];
    int progressive = atoi(argv[6]), restart = atoi(argv[7]);
    const char *cs = argv[8];
    int baseline = argc > 9 ? atoi(argv[9]) : 1;
    int w, h;
    unsigned char *rgb = read_ppm(in, &w, &h);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(out, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    int ncomp = 3;
    unsigned char *src = rgb;
    if (!strcmp(cs, "gray")) {
        ncomp = 1;
        c.in_color_space = JCS_GRAYSCALE;
        src = malloc((size_t)w * h);
        for (size_t i = 0; i < (size_t)w * h; i++) src[i] = (unsigned char)((rgb[i * 3] * 3 + rgb[i * 3 + 1] * 5 + rgb[i * 3 + 2] * 2) / 10);
    } else if (!strcmp(cs, "cmyk") || !strcmp(cs, "ycck")) {
        ncomp = 4;
        c.in_color_space = JCS_CMYK;
        src = malloc((size_t)w * h * 4);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                src[i * 4] = 255 - rgb[i * 3];
                src[i * 4 + 1] = 255 - rgb[i * 3 + 1];
                src[i * 4 + 2] = 255 - rgb[i * 3 + 2];
                src[i * 4 + 3] = (unsigned char)((x * 7 + y * 13) % 256);
            }
    } else {
        c.in_color_space = JCS_RGB;
    }
    c.input_components = ncomp;
    jpeg_set_defaults(&c);
    if (!strcmp(cs, "rgb")) jpeg_set_colorspace(&c, JCS_RGB);
    if (!strcmp(cs, "cmyk")) jpeg_set_colorspace(&c, JCS_CMYK);
    if (!strcmp(cs, "ycck")) jpeg_set_colorspace(&c, JCS_YCCK);
    jpeg_set_quality(&c, quality, baseline);
    const char *s = sampling;
    for (int i = 0; i < c.num_components && *s; i++) {
        int hh, vv, used;
        if (sscanf(s, "%dx%d%n", &hh, &vv, &used) != 2) { fprintf(stderr, "bad sampling\n"); return 1; }
        c.comp_info[i].h_samp_factor = hh;
        c.comp_info[i].v_samp_factor = vv;
        s += used;
        if (*s == ',') s++;
    }
    static jpeg_scan_info scans[4];
    if (progressive == 1) jpeg_simple_progression(&c);
    if (progressive == 2) {
        for (int i = 0; i < c.num_components; i++) {
            scans[i].comps_in_scan = 1;
            scans[i].component_index[0] = i;
            scans[i].Ss = 0; scans[i].Se = 63; scans[i].Ah = 0; scans[i].Al = 0;
        }
        c.scan_info = scans;
        c.num_scans = c.num_components;
    }
    if (progressive == 1) c.optimize_coding = TRUE;
    c.restart_interval = restart;
    jpeg_start_compress(&c, TRUE);
    int stride = w * ncomp;
    while (c.next_scanline < c.image_height) {
        JSAMPROW rp = src + (size_t)c.next_scanline * stride;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    return 0;
}

static void print_table(const char *name, JHUFF_TBL *t) {
    int n = 0;
    printf("%s bits:", name);
    for (int i = 1; i <= 16; i++) { printf(" %d", t->bits[i]); n += t->bits[i]; }
    printf("\n%s vals:", name);
    for (int i = 0; i < n; i++) printf(" 0x%02x", t->huffval[i]);
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "decode")) return decode(argv[2], argv[3]);
    if (argc >= 9 && !strcmp(argv[1], "encode")) return encode(argc, argv);
    if (argc == 2 && !strcmp(argv[1], "stdhuff")) {
        struct jpeg_compress_struct c;
        struct jpeg_error_mgr e;
        c.err = jpeg_std_error(&e);
        jpeg_create_compress(&c);
        c.in_color_space = JCS_RGB;
        c.input_components = 3;
        jpeg_set_defaults(&c);
        print_table("dc0", c.dc_huff_tbl_ptrs[0]);
        print_table("dc1", c.dc_huff_tbl_ptrs[1]);
        print_table("ac0", c.ac_huff_tbl_ptrs[0]);
        print_table("ac1", c.ac_huff_tbl_ptrs[1]);
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of jpegref.c\n");
    return 2;
}
