/*
 * Writes the JPEG variants Pillow's encoder cannot (4:1:1, restart markers, arithmetic coding, YCCK,
 * Adobe RGB) with the system's libjpeg-turbo, for suite_transforms.py's decoder cases:
 *   jpeg_encoder W H IN JPEG HxV QUALITY PROGRESSIVE RESTART_ROWS ARITH < samples > file.jpg
 * IN: gray|rgb|cmyk (interleaved 8-bit samples on stdin); JPEG: gray|ycc|rgb|cmyk|ycck;
 * HxV: the first component's sampling factors (the others are 1x1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static J_COLOR_SPACE space(const char *name) {
  if (!strcmp(name, "gray")) return JCS_GRAYSCALE;
  if (!strcmp(name, "rgb")) return JCS_RGB;
  if (!strcmp(name, "ycc")) return JCS_YCbCr;
  if (!strcmp(name, "cmyk")) return JCS_CMYK;
  if (!strcmp(name, "ycck")) return JCS_YCCK;
  fprintf(stderr, "unknown colour space %s\n", name);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: jpeg_encoder W H IN JPEG HxV QUALITY PROGRESSIVE RESTART_ROWS ARITH\n");
    return 2;
  }
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, stdout);
  c.image_width = atoi(argv[1]);
  c.image_height = atoi(argv[2]);
  c.in_color_space = space(argv[3]);
  c.input_components = c.in_color_space == JCS_GRAYSCALE ? 1 : c.in_color_space == JCS_CMYK ? 4 : 3;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, space(argv[4]));
  int h = 1, v = 1;
  sscanf(argv[5], "%dx%d", &h, &v);
  c.comp_info[0].h_samp_factor = h;
  c.comp_info[0].v_samp_factor = v;
  for (int i = 1; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  jpeg_set_quality(&c, atoi(argv[6]), TRUE);
  if (atoi(argv[7])) jpeg_simple_progression(&c);
  c.restart_in_rows = atoi(argv[8]);
  c.arith_code = atoi(argv[9]) ? TRUE : FALSE;
  const size_t row = (size_t)c.image_width * c.input_components;
  unsigned char *pixels = malloc(row * c.image_height);
  if (fread(pixels, 1, row * c.image_height, stdin) != row * c.image_height) {
    fprintf(stderr, "short input\n");
    return 1;
  }
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = pixels + row * c.next_scanline;
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  free(pixels);
  return 0;
}
