/*
 * JPEG → 8-bit RGB with libjpeg-turbo, exactly as Pillow 9.4 does it (its JpegDecode.c and
 * JpegImagePlugin.py, then Image.convert('RGB')): 1 and 3 components decoded to JCS_RGB (greyscale
 * replicated), 4 components decoded to JCS_CMYK, read as Pillow's "CMYK;I" (Adobe polarity: every
 * sample inverted) and converted with Pillow's cmyk2rgb. libjpeg's defaults otherwise: ISLOW IDCT,
 * fancy upsampling. Warnings are ignored as Pillow's output_message ignores them, except running out
 * of data, which Pillow reports as a truncated file.
 *
 * Errors go to the imported mnv3_jpeg_fail, which throws in JS: the wasm stack is then abandoned, so
 * the caller discards this instance after any error rather than longjmp-ing back into it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "jpeglib.h"
#include "jerror.h"

/* What went wrong, as decode.ts names it (ImageError codes). */
#define FAIL_CORRUPT 1
#define FAIL_TRUNCATED 2
#define FAIL_UNSUPPORTED 3
#define FAIL_TOO_LARGE 4
#define FAIL_OUT_OF_MEMORY 5

/* A progressive file with more scans than this is hostile (libjpeg-turbo's TJFLAG_LIMITSCANS cap). */
#define MAX_SCANS 500

__attribute__((import_module("env"), import_name("mnv3_jpeg_fail")))
__attribute__((noreturn)) void mnv3_jpeg_fail(int code, const char *message);

__attribute__((noreturn)) static void fail_with_message(j_common_ptr cinfo, int code) {
  char buffer[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buffer);
  mnv3_jpeg_fail(code, buffer);
}

static void on_error_exit(j_common_ptr cinfo) {
  switch (cinfo->err->msg_code) {
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED:
    case JERR_ARITH_NOTIMPL:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_COMPONENT_COUNT:
    case JERR_EMPTY_IMAGE:
      fail_with_message(cinfo, FAIL_UNSUPPORTED);
    case JERR_IMAGE_TOO_BIG:
      fail_with_message(cinfo, FAIL_TOO_LARGE);
    case JERR_OUT_OF_MEMORY:
      fail_with_message(cinfo, FAIL_OUT_OF_MEMORY);
    case JERR_INPUT_EOF:
      fail_with_message(cinfo, FAIL_TRUNCATED);
    default:
      fail_with_message(cinfo, FAIL_CORRUPT);
  }
}

static void on_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) fail_with_message(cinfo, FAIL_TRUNCATED);
  if (msg_level < 0) cinfo->err->num_warnings++;
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void on_progress(j_common_ptr cinfo) {
  j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
  if (dinfo->is_decompressor && dinfo->progressive_mode && dinfo->input_scan_number > MAX_SCANS)
    mnv3_jpeg_fail(FAIL_CORRUPT, "more than 500 scans (a hostile progressive file)");
}

/* Pillow 9.4's MULDIV255 and CLIP8 (libImaging/ImagingUtils.h, Convert.c). */
static inline int muldiv255(int a, int b) {
  int tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}
static inline uint8_t clip8(int v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v; }

/*
 * Decodes `length` bytes at `source`; returns a malloc'ed width*height*3 RGB buffer (the caller
 * frees it) and writes width and height to info[0..1]. Images with more
 * than max_pixels pixels are refused from the header, before any pixel memory is allocated.
 */
uint8_t *mnv3_jpeg_decode(const uint8_t *source, uint32_t length, uint32_t max_pixels, uint32_t *info) {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr jerr;
  struct jpeg_progress_mgr progress;
  cinfo.err = jpeg_std_error(&jerr);
  jerr.error_exit = on_error_exit;
  jerr.emit_message = on_emit_message;
  jerr.output_message = on_output_message;
  jpeg_create_decompress(&cinfo);
  progress.progress_monitor = on_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, source, length);
  jpeg_read_header(&cinfo, TRUE);

  const uint32_t width = cinfo.image_width, height = cinfo.image_height;
  const int components = cinfo.num_components;
  info[0] = width;
  info[1] = height;
  if ((uint64_t)width * height > max_pixels) mnv3_jpeg_fail(FAIL_TOO_LARGE, "more pixels than the limit");
  if (components == 1 || components == 3) cinfo.out_color_space = JCS_RGB;
  else if (components == 4) cinfo.out_color_space = JCS_CMYK;
  else mnv3_jpeg_fail(FAIL_UNSUPPORTED, "only 1, 3 or 4 components are supported (as Pillow)");

  jpeg_start_decompress(&cinfo);
  const size_t row_bytes = (size_t)width * 3;
  uint8_t *rgb = malloc(row_bytes * height);
  uint8_t *cmyk = components == 4 ? malloc((size_t)width * 4) : NULL;
  if (rgb == NULL || (components == 4 && cmyk == NULL)) mnv3_jpeg_fail(FAIL_OUT_OF_MEMORY, "out of memory");
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t *row = rgb + row_bytes * cinfo.output_scanline;
    if (cmyk == NULL) {
      JSAMPROW rows[1] = {row};
      jpeg_read_scanlines(&cinfo, rows, 1);
    } else {
      JSAMPROW rows[1] = {cmyk};
      jpeg_read_scanlines(&cinfo, rows, 1);
      for (uint32_t x = 0; x < width; x++) {
        const uint8_t *p = cmyk + 4 * x;
        /* "CMYK;I" inverts every sample, so Pillow's k is 255 - p[3] and its nk = 255 - k is p[3]. */
        const int nk = p[3];
        for (int c = 0; c < 3; c++) row[3 * x + c] = clip8(nk - muldiv255(255 - p[c], nk));
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(cmyk);
  return rgb;
}
