"""Fixtures for @mnv3/layers' transforms: decoding, Pillow's resize, TorchVision's presets.

Each case is an encoded image (`encoded`, the file's bytes as uint8) with what Pillow 9.4 and
TorchVision 0.14 make of it: `rgb` (Image.open(...).convert('RGB'), HWC uint8), `resize.<i>` (the
RGB image's Image.resize to config["resizes"][i] = [h, w, interpolation]), `tv_resize.<n>`
(F.resize(img, n), HWC uint8) and `preset.<name>` (a TorchVision preset's CHW float32 output,
config["presets"] says which). Real photos come from Debian's python3-skimage; synthetic images are
made here with PIL or, for what PIL cannot write, by a minimal PNG writer and by jpeg_encoder.c
(libjpeg-turbo: 4:1:1, restart markers, arithmetic coding, YCCK).
"""
import io
import os
import struct
import subprocess
import tempfile
import zlib

import warnings

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F
from torchvision.transforms._presets import ImageClassification, SemanticSegmentation

warnings.filterwarnings("ignore", message="Palette images with Transparency")

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"

PIL_FILTERS = {
    "nearest": Image.NEAREST,
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "box": Image.BOX,
    "hamming": Image.HAMMING,
    "lanczos": Image.LANCZOS,
}

PRESETS = {
    "cls_256_224": lambda: ImageClassification(crop_size=224, resize_size=256),
    "cls_232_224": lambda: ImageClassification(crop_size=224, resize_size=232),
    "cls_200_224": lambda: ImageClassification(crop_size=224, resize_size=200),  # crop > image: pads
    "seg_520": lambda: SemanticSegmentation(resize_size=520),
    "seg_320": lambda: SemanticSegmentation(resize_size=320),
}


def _gray_tensor_preset(resize, crop):
    """FASHION_MNIST_V1's preset: Grayscale(3) on the PIL image, then TorchVision's uint8-tensor path."""
    def run(img):
        t = F.pil_to_tensor(F.to_grayscale(img, num_output_channels=3))
        t = F.center_crop(F.resize(t, resize, antialias=False), crop)
        return F.normalize(F.convert_image_dtype(t, torch.float), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    return run


PRESETS["gray_64_64"] = lambda: _gray_tensor_preset(64, 64)
SEG_520 = {"astronaut", "chelsea", "camera", "syn_rgb_197x231", "syn_rgb_1x1"}


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def raw_png(samples, depth, color_type, plte=None, trns=None, interlace=False):
    """A PNG of raw sample values (H x W x C), any bit depth, filter type 0, optionally Adam7."""
    h, w, _ = samples.shape
    if interlace:
        data = b"".join(
            _scanlines(samples[ys::ystep, xs::xstep], depth) for xs, ys, xstep, ystep in ADAM7 if xs < w and ys < h
        )
    else:
        data = _scanlines(samples, depth)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        out += _chunk(b"PLTE", bytes(np.asarray(plte, np.uint8).reshape(-1)))
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    return out + _chunk(b"IDAT", zlib.compress(data, 6)) + _chunk(b"IEND", b"")


def _scanlines(samples, depth):
    h = samples.shape[0]
    rows = []
    for y in range(h):
        row = samples[y].reshape(-1)
        if depth == 16:
            b = row.astype(">u2").tobytes()
        elif depth == 8:
            b = row.astype(np.uint8).tobytes()
        else:
            per = 8 // depth
            r = np.concatenate([row, np.zeros((-len(row)) % per, row.dtype)]).reshape(-1, per).astype(np.uint32)
            v = np.zeros(r.shape[0], np.uint32)
            for i in range(per):
                v = (v << depth) | r[:, i]
            b = v.astype(np.uint8).tobytes()
        rows.append(b"\0" + b)
    return b"".join(rows)


def pil_png(img, **kw):
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def smooth_rgb(h, w, seed):
    """A photo-like test card: gradients, a disc, edges and some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * (x / max(w - 1, 1))
    g = 255 * (y / max(h - 1, 1))
    b = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 5.0)
    disc = ((x - w / 2) ** 2 + (y - h / 3) ** 2) < (min(h, w) / 4) ** 2
    img = np.stack([r, g, b], -1)
    img[disc] = [250, 30, 40]
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def synthetic():
    rng = np.random.default_rng(1234)
    yield "syn_rgb_197x231", pil_png(Image.fromarray(smooth_rgb(197, 231, 1))), "synthetic RGB, odd size"
    yield "syn_noise_61x47", pil_png(Image.fromarray(rng.integers(0, 256, (61, 47, 3), dtype=np.uint8))), "uniform noise RGB"
    yield "syn_rgb_1x1", pil_png(Image.fromarray(np.array([[[200, 100, 50]]], np.uint8))), "1x1 RGB"
    yield "syn_rgb_2x3", pil_png(Image.fromarray(rng.integers(0, 256, (2, 3, 3), dtype=np.uint8))), "2x3 RGB"
    yield "syn_rgb_1x40", pil_png(Image.fromarray(smooth_rgb(1, 40, 2))), "one row"
    yield "syn_rgb_33x1", pil_png(Image.fromarray(smooth_rgb(33, 1, 3))), "one column"
    rgba = np.concatenate([smooth_rgb(73, 89, 4), rng.integers(0, 256, (73, 89, 1), dtype=np.uint8)], -1)
    yield "syn_rgba_73x89", pil_png(Image.fromarray(rgba, "RGBA")), "RGBA, random alpha (dropped, not composited)"
    la = np.stack([smooth_rgb(50, 41, 5)[..., 0], rng.integers(0, 256, (50, 41), dtype=np.uint8)], -1)
    yield "syn_la_50x41", pil_png(Image.fromarray(la, "LA")), "LA"
    yield "syn_l_45x67", pil_png(Image.fromarray(smooth_rgb(45, 67, 6)[..., 1], "L")), "L"
    pal = Image.fromarray(smooth_rgb(64, 80, 7)).quantize(colors=37)
    yield "syn_p_transparency_64x80", pil_png(pal, transparency=3), "P with a transparent index"
    yield "syn_p_trns_bytes_64x80", pil_png(pal, transparency=bytes(range(0, 37 * 7, 7))), "P with tRNS alpha bytes"
    yield "syn_1bit_37x29", pil_png(Image.fromarray(rng.integers(0, 2, (37, 29), dtype=np.uint8) * 255).convert("1")), "mode 1"
    i16 = Image.fromarray(rng.integers(0, 400, (23, 31), dtype=np.uint16).astype(np.int32)).convert("I")
    yield "syn_i16_23x31", pil_png(i16.convert("I;16")), "16-bit grey written by PIL (values > 255 clip)"
    yield "raw_gray16_9x7", raw_png(rng.integers(0, 65536, (9, 7, 1)), 16, 0), "16-bit grey, full range"
    yield "raw_gray16_trns_5x4", raw_png(rng.integers(0, 300, (5, 4, 1)), 16, 0, trns=b"\x00\x46"), "16-bit grey with tRNS"
    yield "raw_rgb16_11x13", raw_png(rng.integers(0, 65536, (11, 13, 3)), 16, 2), "16-bit RGB"
    yield "raw_rgba16_7x9", raw_png(rng.integers(0, 65536, (7, 9, 4)), 16, 6), "16-bit RGBA"
    yield "raw_la16_6x5", raw_png(rng.integers(0, 65536, (6, 5, 2)), 16, 4), "16-bit LA"
    yield "raw_gray2_5x11", raw_png(rng.integers(0, 4, (5, 11, 1)), 2, 0), "2-bit grey"
    yield "raw_gray4_7x9", raw_png(rng.integers(0, 16, (7, 9, 1)), 4, 0), "4-bit grey"
    yield "raw_gray1_3x17", raw_png(rng.integers(0, 2, (3, 17, 1)), 1, 0), "1-bit grey"
    yield "raw_rgb_trns_4x6", raw_png(rng.integers(0, 256, (4, 6, 3)), 8, 2, trns=b"\x00\x10\x00\x20\x00\x30"), "RGB with tRNS"
    plte = rng.integers(0, 256, (5, 3))
    yield "raw_p4_short_palette_6x7", raw_png(rng.integers(0, 16, (6, 7, 1)), 4, 3, plte=plte, trns=b"\x00\x80"), "4-bit P, indices past PLTE"
    yield "raw_p2_5x9", raw_png(rng.integers(0, 4, (5, 9, 1)), 2, 3, plte=rng.integers(0, 256, (4, 3))), "2-bit P"
    yield "raw_adam7_rgb_37x23", raw_png(smooth_rgb(37, 23, 12), 8, 2, interlace=True), "Adam7-interlaced RGB"
    yield "raw_adam7_gray2_13x11", raw_png(rng.integers(0, 4, (13, 11, 1)), 2, 0, interlace=True), "Adam7 2-bit grey"
    yield "raw_adam7_rgba16_9x10", raw_png(rng.integers(0, 65536, (9, 10, 4)), 16, 6, interlace=True), "Adam7 16-bit RGBA"
    yield "raw_adam7_p4_5x3", raw_png(rng.integers(0, 16, (5, 3, 1)), 4, 3, plte=rng.integers(0, 256, (16, 3)), interlace=True), "Adam7 4-bit P"
    yield "raw_adam7_1x1", raw_png(np.array([[[10, 20, 30]]]), 8, 2, interlace=True), "Adam7 1x1"
    yield "raw_p1_3x10", raw_png(rng.integers(0, 2, (3, 10, 1)), 1, 3, plte=rng.integers(0, 256, (2, 3))), "1-bit P"


def photo(stem, h, w, y=0, x=0):
    """A crop of a skimage photo: natural content, which exercises the IDCT better than gradients."""
    return np.asarray(Image.open(os.path.join(SKIMAGE, stem + ".png")).convert("RGB"))[y:y + h, x:x + w]


def pil_jpeg(pixels, mode=None, **options):
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, format="JPEG", **options)
    return buf.getvalue()


_ENCODER = None


def libjpeg(pixels, in_space, jpeg_space, sampling="2x2", quality=85, progressive=False, restart_rows=0, arith=False):
    """What Pillow's encoder cannot write, by tools/reference/jpeg_encoder.c on the system's libjpeg-turbo."""
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = os.path.join(tempfile.mkdtemp(), "jpeg_encoder")
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jpeg_encoder.c")
        subprocess.run(["gcc", "-O2", "-o", _ENCODER, source, "-ljpeg"], check=True)
    h, w = pixels.shape[:2]
    args = [_ENCODER, str(w), str(h), in_space, jpeg_space, sampling, str(quality), str(int(progressive)), str(restart_rows), str(int(arith))]
    return subprocess.run(args, input=np.ascontiguousarray(pixels, np.uint8).tobytes(), capture_output=True, check=True).stdout


def jpeg_cases():
    """Real JPEGs, then one of every kind the decoder must match Pillow on (odd sizes throughout)."""
    for stem in JPEGS:
        with open(os.path.join(SKIMAGE, stem + ".jpg"), "rb") as f:
            yield f"jpeg_{stem}", f.read(), f"skimage {stem}.jpg"
    chelsea = photo("chelsea", 300, 451)
    cat = photo("chelsea", 97, 131, 60, 150)
    yield "jpeg_pil_chelsea_q85_420", pil_jpeg(chelsea, quality=85), "chelsea.png written by PIL, quality 85, 4:2:0"
    yield "jpeg_pil_astronaut_q75", pil_jpeg(photo("astronaut", 512, 512), quality=75), "astronaut.png, PIL quality 75"
    for sub, label in [(0, "444"), (1, "422"), (2, "420")]:
        yield f"jpeg_pil_{label}_97x131", pil_jpeg(cat, quality=90, subsampling=sub), f"PIL, 4:{label[1]}:{label[2]}, 97x131"
    yield "jpeg_pil_progressive_420_97x131", pil_jpeg(cat, quality=80, progressive=True), "PIL progressive 4:2:0"
    yield "jpeg_pil_progressive_444", pil_jpeg(smooth_rgb(120, 95, 10), quality=95, subsampling=0, progressive=True), "PIL progressive JPEG, 4:4:4"
    yield "jpeg_pil_gray", pil_jpeg(cat[..., 1], "L", quality=85), "PIL greyscale JPEG"
    yield "jpeg_pil_optimized_q100", pil_jpeg(cat, quality=100, optimize=True), "PIL quality 100, optimised Huffman tables"
    cmyk = np.concatenate([255 - cat, (cat.min(axis=2, keepdims=True) // 2)], axis=2).astype(np.uint8)
    yield "jpeg_pil_cmyk", pil_jpeg(cmyk, "CMYK", quality=90), "PIL CMYK (Adobe marker, inverted)"
    yield "jpeg_411_97x131", libjpeg(cat, "rgb", "ycc", "4x1"), "libjpeg 4:1:1"
    yield "jpeg_440_97x131", libjpeg(cat, "rgb", "ycc", "1x2"), "libjpeg 4:4:0"
    yield "jpeg_restart_420", libjpeg(cat, "rgb", "ycc", "2x2", restart_rows=1), "libjpeg 4:2:0, a restart marker every MCU row"
    yield "jpeg_restart_progressive", libjpeg(cat, "rgb", "ycc", "2x1", progressive=True, restart_rows=2), "libjpeg progressive 4:2:2, restart markers"
    yield "jpeg_arithmetic", libjpeg(cat, "rgb", "ycc", "2x2", arith=True), "libjpeg arithmetic coding"
    yield "jpeg_adobe_rgb", libjpeg(cat, "rgb", "rgb", "1x1"), "libjpeg RGB without colour transform (Adobe transform 0)"
    yield "jpeg_ycck", libjpeg(cmyk, "cmyk", "ycck", "2x2", quality=90), "libjpeg YCCK (Adobe transform 2)"
    yield "jpeg_cmyk_progressive", libjpeg(cmyk, "cmyk", "cmyk", "1x1", progressive=True), "libjpeg progressive CMYK"
    yield "jpeg_gray_restart_odd", libjpeg(cat[:, :, 0][:53, :1], "gray", "gray", "1x1", restart_rows=1), "libjpeg greyscale 1x53, restarts"
    yield "jpeg_1x1", libjpeg(cat[:1, :1], "rgb", "ycc", "2x2"), "1x1 4:2:0"
    yield "jpeg_17x1", libjpeg(cat[:1, :17], "rgb", "ycc", "2x2"), "17x1 4:2:0"
    yield "jpeg_odd_420_33x29", libjpeg(chelsea[100:133, 200:229], "rgb", "ycc", "2x2", quality=60), "33x29 4:2:0 (partial MCUs on both axes)"


REAL_PNGS = ["astronaut", "coffee", "chelsea", "camera", "color", "green_palette", "horse", "logo", "motorcycle_left", "coins", "microaneurysms"]
JPEGS = ["hubble_deep_field", "rocket", "retina"]


def resize_targets(h, w):
    """Several output sizes per image: odd downscales, upscales, one axis kept, tiny."""
    out = []
    for fh, fw in [(0.37, 0.61), (0.5, 0.5), (1.0, 0.29), (0.71, 1.0), (1.7, 2.3), (3.0, 3.0)]:
        th, tw = max(1, int(h * fh)), max(1, int(w * fw))
        if th * tw <= 400_000 and (th, tw) != (h, w):
            out.append([th, tw, "bilinear"])
    out += [[224, 224, "bilinear"], [13, 29, "bilinear"]]
    for interp in ["nearest", "bicubic", "box", "hamming", "lanczos"]:
        out.append([max(1, int(h * 0.43)), max(1, int(w * 0.77)), interp])
        out.append([min(3 * h, 300), min(2 * w + 1, 300), interp])
    return out


def preset_names(name, h, w):
    names = ["cls_256_224", "cls_232_224"]
    if min(h, w) < 150:
        names.append("cls_200_224")  # small images: also the padding path of center_crop
    if max(h, w) / min(h, w) <= 4:  # a 1xN image resized to 320 on the short side is enormous
        names.append("seg_320")
        names.append("gray_64_64")
    if name.replace("photo_", "") in SEG_520:
        names.append("seg_520")
    return names


def case(write, name, encoded, description, presets=True):
    img = Image.open(io.BytesIO(encoded))
    mode = img.mode
    rgb_img = img.convert("RGB")
    rgb = np.asarray(rgb_img)
    h, w = rgb.shape[:2]
    tensors = {"encoded": np.frombuffer(encoded, np.uint8), "rgb": rgb}
    resizes = resize_targets(h, w)
    for i, (th, tw, interp) in enumerate(resizes):
        tensors[f"resize.{i}"] = np.asarray(rgb_img.resize((tw, th), PIL_FILTERS[interp]))
    tv_sizes = [256, 232, 7]
    for n in tv_sizes:
        if max(h, w) / min(h, w) <= 4:
            tensors[f"tv_resize.{n}"] = np.asarray(F.resize(rgb_img, n))
    names = preset_names(name, h, w) if presets else []
    for p in names:
        with torch.no_grad():
            tensors[f"preset.{p}"] = PRESETS[p]()(rgb_img).contiguous()
    config = dict(kind="png" if encoded[:4] == b"\x89PNG" else "jpeg", description=description, mode=mode, height=h, width=w,
                  resizes=resizes, tvResizes=[n for n in tv_sizes if f"tv_resize.{n}" in tensors], presets=names)
    write(name, tensors, {"config": config})


def build(write):
    for stem in REAL_PNGS:
        with open(os.path.join(SKIMAGE, stem + ".png"), "rb") as f:
            case(write, f"photo_{stem}", f.read(), f"skimage {stem}.png")
    for name, encoded, description in synthetic():
        case(write, name, encoded, description)
    # JPEG: every case carries the full resize and preset set, as the PNGs do: our decoder is
    # libjpeg-turbo, so the pixels must be Pillow's exactly.
    for name, encoded, description in jpeg_cases():
        case(write, name, encoded, description)
