"""Fixtures for @mnv3/detect-frcnn: TorchVision's detection ops and Faster R-CNN MobileNetV3-Large FPN.

`ops`: box_iou, nms / batched_nms (ties; both batched paths), remove_small_boxes,
clip_boxes_to_image, BoxCoder encode/decode, AnchorGenerator, roi_align (border-crossing boxes,
adaptive sampling, aligned), MultiScaleRoIAlign (LevelMapper over two levels),
FeaturePyramidNetwork + LastLevelMaxPool (odd sizes: nearest upsampling), bilinear resize.

Models: both builders with FrozenBatchNorm2d (the key set of TorchVision's COCO checkpoints),
seeded random weights with BatchNorm statistics calibrated on images, and a sharpened box
classifier so that tens of detections pass the 0.05 score threshold; one BatchNorm2d variant (the
`weights=None` key set). Every stage is recorded: transformed batch and image sizes, FPN
features, anchors, RPN proposals, RoIAlign box features, class logits, detections.
"""
import copy
import os
from collections import OrderedDict

import numpy as np
import torch
import torchvision
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.models.detection import faster_rcnn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import _mobilenet_extractor, _resnet_fpn_extractor
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection._utils import BoxCoder, overwrite_eps
from torchvision.ops import boxes as box_ops
from torchvision.ops import misc as misc_nn_ops
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign, roi_align
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from common import calibrate_batchnorm, randomize, state_entries, varied_input

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"


def _rand_boxes(g, n, scale, min_wh=0.0):
    xy = torch.rand((n, 2), generator=g) * scale
    wh = torch.rand((n, 2), generator=g) * scale * 0.5 + min_wh
    return torch.cat([xy, xy + wh], dim=1)


@torch.no_grad()
def build_ops(write):
    g = torch.Generator().manual_seed(42)
    t = OrderedDict()
    # box_iou
    a, b = _rand_boxes(g, 20, 100), _rand_boxes(g, 30, 100)
    b[:3] = a[:3]  # identical boxes
    t["iou_a"], t["iou_b"], t["iou_out"] = a, b, box_ops.box_iou(a, b)
    # nms with ties (scores quantised to 8 levels) and duplicate boxes
    boxes = _rand_boxes(g, 600, 200, 1.0)
    boxes[100:110] = boxes[0:10]
    scores = (torch.rand(600, generator=g) * 8).floor() / 8
    t["nms_boxes"], t["nms_scores"] = boxes, scores
    for thr in [0.3, 0.5, 0.7]:
        t[f"nms_keep_{int(thr * 10)}"] = torchvision.ops.nms(boxes, scores, thr)
    # batched_nms: coordinate trick (<= 1000 boxes) with ties; vanilla (> 1000 boxes) with distinct scores
    idxs = torch.randint(0, 5, (600,), generator=g)
    t["bnms_idxs"] = idxs
    t["bnms_keep_trick"] = box_ops.batched_nms(boxes, scores, idxs, 0.5)
    boxes_v = _rand_boxes(g, 1500, 300, 1.0)
    scores_v = torch.rand(1500, generator=g)
    idxs_v = torch.randint(0, 4, (1500,), generator=g)
    t["bnms_v_boxes"], t["bnms_v_scores"], t["bnms_v_idxs"] = boxes_v, scores_v, idxs_v
    t["bnms_keep_vanilla"] = box_ops.batched_nms(boxes_v, scores_v, idxs_v, 0.6)
    # remove_small_boxes / clip
    small = _rand_boxes(g, 200, 10)
    small[:, 2:] = small[:, :2] + torch.rand((200, 2), generator=g) * 2
    t["small_boxes"], t["small_keep"] = small, box_ops.remove_small_boxes(small, 1.0)
    wild = torch.randn((100, 4), generator=g) * 300 + 100
    t["clip_in"], t["clip_out"] = wild, box_ops.clip_boxes_to_image(wild, (217, 333))
    # BoxCoder
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    ref, prop = _rand_boxes(g, 50, 300, 2.0), _rand_boxes(g, 50, 300, 2.0)
    t["coder_ref"], t["coder_prop"] = ref, prop
    t["coder_encoded"] = coder.encode_single(ref, prop)
    codes = torch.randn((50, 8), generator=g) * 3
    codes[:5, 2] = 100.0  # beyond bbox_xform_clip after /5
    t["coder_codes"] = codes
    t["coder_decoded"] = coder.decode(codes, [prop])  # [50, 2, 4]
    coder1 = BoxCoder((1.0, 1.0, 1.0, 1.0))
    t["coder1_decoded"] = coder1.decode(codes[:, :4], [prop])
    # AnchorGenerator as the models use it, and a mixed one
    ag = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    il = ImageList(torch.zeros((2, 3, 800, 1088)), [(800, 1067), (750, 1088)])
    feats = [torch.zeros((2, 1, 25, 34)), torch.zeros((2, 1, 25, 34)), torch.zeros((2, 1, 13, 17))]
    t["anchors_model"] = ag(il, feats)[0]
    ag2 = AnchorGenerator(((16, 40), (100,)), ((0.25, 1.0, 3.0), (0.7,)))
    il2 = ImageList(torch.zeros((1, 3, 96, 160)), [(90, 150)])
    t["anchors_mixed"] = ag2(il2, [torch.zeros((1, 1, 12, 20)), torch.zeros((1, 1, 5, 9))])[0]
    # roi_align
    x = torch.randn((2, 5, 13, 17), generator=g)
    rois = torch.cat([torch.randint(0, 2, (40, 1), generator=g).float(), _rand_boxes(g, 40, 80)], dim=1)
    rois[:8, 1:] = torch.tensor([[-20.0, -10, 30, 40], [50, 40, 90, 70], [60, 0, 75, 60], [-5, -5, -1, -1],
                                 [10, 10, 10.5, 10.2], [0, 0, 68, 52], [66, 50, 100, 90], [30, 30, 30, 30]])
    t["ra_x"], t["ra_rois"] = x, rois
    t["ra_out"] = roi_align(x, rois, (7, 7), 0.25, 2, False)
    t["ra_out_adaptive"] = roi_align(x, rois, (5, 4), 0.25, -1, False)
    t["ra_out_aligned"] = roi_align(x, rois, (7, 7), 0.25, 2, True)
    # MultiScaleRoIAlign over two levels (strides 4 and 8 for a 128x160 image batch)
    pool = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
    mf = OrderedDict([("0", torch.randn((2, 6, 32, 40), generator=g)), ("1", torch.randn((2, 6, 16, 20), generator=g)),
                      ("pool", torch.randn((2, 6, 8, 10), generator=g))])
    mboxes = [_rand_boxes(g, 30, 100, 1.0), _rand_boxes(g, 25, 100, 1.0)]
    mboxes[0][:4] = torch.tensor([[0.0, 0, 224, 224], [0, 0, 111, 113], [10, 10, 122, 122], [0, 0, 8, 8]])
    for k, v in mf.items():
        t[f"msra_x_{k}"] = v
    t["msra_boxes_0"], t["msra_boxes_1"] = mboxes
    t["msra_out"] = pool(mf, mboxes, [(128, 160), (120, 150)])
    t["msra_scales"] = torch.tensor(pool.scales)
    # FPN with LastLevelMaxPool on odd sizes
    fpn = FeaturePyramidNetwork([16, 32], 24, extra_blocks=LastLevelMaxPool())
    randomize(fpn, 7)
    fx = OrderedDict([("0", torch.randn((2, 16, 15, 21), generator=g)), ("1", torch.randn((2, 32, 8, 11), generator=g))])
    fo = fpn(fx)
    for k, v in fx.items():
        t[f"fpn_in_{k}"] = v
    for k, v in fo.items():
        t[f"fpn_out_{k}"] = v
    t.update(state_entries(fpn, "state."))
    # Bilinear resize as GeneralizedRCNNTransform does it
    for i, (h, w, mn, mx) in enumerate([(300, 500, 800, 1333), (333, 517, 320, 640), (37, 1000, 800, 1333), (481, 479, 800, 1333)]):
        img = torch.rand((3, h, w), generator=g)
        t[f"resize_in_{i}"] = img
        t[f"resize_out_{i}"] = faster_rcnn.GeneralizedRCNNTransform(mn, mx, [0.0] * 3, [1.0] * 3).resize(img)[0]
    # draw_bounding_boxes (PIL's rectangle and default bitmap font)
    from torchvision.utils import draw_bounding_boxes

    img = (torch.rand((3, 60, 90), generator=g) * 255).to(torch.uint8)
    dboxes = torch.tensor([[5.7, 4.2, 40.9, 30.1], [30, 20, 85, 58], [-3, 50, 20, 70], [60, 2, 62, 3]])
    t["draw_in"] = img
    t["draw_boxes"] = dboxes
    t["draw_out_labels"] = draw_bounding_boxes(img, dboxes, labels=["person", "dog 17", "N/A", "x"], width=2)
    t["draw_out_fill"] = draw_bounding_boxes(img, dboxes, colors=[(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 99, 199)], fill=True)
    t["draw_in_gray"] = img[:1]
    t["draw_out_gray"] = draw_bounding_boxes(img[:1], dboxes[:2], labels=["a", "b"], colors=(10, 200, 30), width=3)
    write("ops", t, {"config": {}})


def smooth_image(g, h, w):
    """A [3,H,W] image in [0,1]: smooth blobs, edges and a little noise, so detections differ by place."""
    img = torch.nn.functional.interpolate(torch.rand((1, 3, 6, 8), generator=g), size=(h, w), mode="bicubic", align_corners=False)[0]
    for _ in range(6):
        y0, x0 = int(torch.randint(0, h - 20, (1,), generator=g)), int(torch.randint(0, w - 20, (1,), generator=g))
        hh, ww = int(torch.randint(10, h // 2, (1,), generator=g)), int(torch.randint(10, w // 2, (1,), generator=g))
        img[:, y0 : y0 + hh, x0 : x0 + ww] = torch.rand((3, 1, 1), generator=g)
    # Noise last: exactly flat regions give exactly tied objectness in TorchVision, which any
    # other float implementation breaks differently (the padding of a batch still has them).
    img = img + 0.05 * torch.randn((3, h, w), generator=g)
    return img.clamp(0, 1)


def png_image(name):
    import PIL.Image

    arr = np.asarray(PIL.Image.open(os.path.join(SKIMAGE, name)).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def make_resnet50_fpn_backbone(frozen, seed, **extractor_kwargs):
    """_resnet_fpn_extractor over resnet50 as fasterrcnn_resnet50_fpn builds it (retinanet_resnet50_fpn
    passes returned_layers and extra_blocks), BatchNorm statistics calibrated on the BatchNorm2d
    variant, then copied."""
    torch.manual_seed(seed)
    body = resnet50(norm_layer=torch.nn.BatchNorm2d)
    randomize(body, seed)
    calibrate_batchnorm(body, (2, 3, 256, 256), seed)
    backbone = resnet50(norm_layer=misc_nn_ops.FrozenBatchNorm2d if frozen else torch.nn.BatchNorm2d)
    sd = body.state_dict()
    if frozen:
        sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    backbone.load_state_dict(sd)
    return _resnet_fpn_extractor(backbone, 3 if frozen else 5, **extractor_kwargs)


def make_model(builder, frozen, seed):
    kwargs = {}
    if builder == "fasterrcnn_resnet50_fpn":
        # TorchVision's builder at a smaller transform (800 px through ResNet-50 costs ~15x the
        # compute); every other setting is fasterrcnn_resnet50_fpn's default.
        model = faster_rcnn.FasterRCNN(make_resnet50_fpn_backbone(frozen, seed), 91, min_size=320, max_size=512)
        if frozen:
            overwrite_eps(model, 0.0)  # fasterrcnn_resnet50_fpn does this for COCO_V1, whose key set the test builds
        return randomize_heads(model, seed)
    if builder.endswith("320_fpn"):
        kwargs = dict(min_size=320, max_size=640, rpn_pre_nms_top_n_test=150, rpn_post_nms_top_n_test=150, rpn_score_thresh=0.05)
    # _fasterrcnn_mobilenet_v3_large_fpn with the norm layer TorchVision picks for trained weights
    # (FrozenBatchNorm2d) or for none (BatchNorm2d). BatchNorm statistics are calibrated on the
    # BatchNorm2d variant, then copied.
    torch.manual_seed(seed)
    body = mobilenet_v3_large(norm_layer=torch.nn.BatchNorm2d)
    randomize(body, seed)
    calibrate_batchnorm(body.features, (4, 3, 320, 320), seed)
    norm = misc_nn_ops.FrozenBatchNorm2d if frozen else torch.nn.BatchNorm2d
    backbone = mobilenet_v3_large(norm_layer=norm)
    sd = body.state_dict()
    if frozen:
        sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    backbone.load_state_dict(sd)
    backbone = _mobilenet_extractor(backbone, True, 3 if frozen else 6)
    ag = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    model = faster_rcnn.FasterRCNN(backbone, 91, rpn_anchor_generator=ag, **kwargs)
    return randomize_heads(model, seed)


@torch.no_grad()
def randomize_outside_body(model, seed):
    """Seeded weights for every conv and linear layer outside the backbone body (FPN, heads)."""
    g = torch.Generator().manual_seed(seed + 1)
    for name, m in model.named_modules():
        if name.startswith("backbone.body"):
            continue
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.0 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def save_pre_013_checkpoint(model, path, renames):
    """torch.save of the state dict as torchvision < 0.13 wrote it (TorchVision's published detection
    checkpoints are that old): `renames` maps today's keys to the old ones, and the modules whose
    layout changed are saved at `_version` 1. TorchVision 0.14 must load it back strictly."""
    sd = model.state_dict()
    old = OrderedDict((renames.get(k, k), v) for k, v in sd.items())
    old._metadata = OrderedDict((k, dict(v)) for k, v in sd._metadata.items())
    for parent in {k.rsplit(".", 1)[0] for k in renames}:
        for module in old._metadata:
            if module and (parent == module or parent.startswith(module + ".")) and type(model.get_submodule(module))._version == 2:
                old._metadata[module]["version"] = 1
    torch.save(old, path)
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for v in clone.state_dict().values():
            v.zero_()
    clone.load_state_dict(torch.load(path))  # strict: a key TorchVision did not upgrade raises
    assert all(torch.equal(a, b) for a, b in zip(clone.state_dict().values(), sd.values()))


def pre_013_renames(model):
    """Today's key → the torchvision < 0.13 key, for FPN (inner/layer blocks were bare convs) and
    the RPN head (one conv)."""
    renames = {}
    for k in model.state_dict():
        for block in ("backbone.fpn.inner_blocks.", "backbone.fpn.layer_blocks."):
            if k.startswith(block) and k.count(".") == 5:  # backbone.fpn.inner_blocks.I.0.weight
                i, _, t = k[len(block):].split(".")
                renames[k] = f"{block}{i}.{t}"
        if k.startswith("rpn.head.conv.0.0."):
            renames[k] = "rpn.head.conv." + k.rsplit(".", 1)[1]
    return renames


def randomize_heads(model, seed):
    """Seeded weights for everything outside the backbone body, with the RPN tamed (below)."""
    randomize_outside_body(model, seed)
    with torch.no_grad():
        # Random RPN weights push objectness logits to ~18 on the photos, where float32 sigmoid
        # saturates and thousands of proposals tie at the same probability: NMS order then
        # hinges on 1-ulp differences of the logits. Trained RPNs are far less saturated; scale
        # the logits down so the fixtures test the arithmetic, not tie-breaking.
        model.rpn.head.cls_logits.weight.mul_(0.4)
        model.rpn.head.cls_logits.bias.mul_(0.4)
        # Likewise random box deltas of order 1-3 hit the exp clamp and stretch proposals over the
        # whole image, where 1e-5 of feature noise becomes 0.1 px; trained deltas are small.
        model.rpn.head.bbox_pred.weight.mul_(0.3)
        model.rpn.head.bbox_pred.bias.mul_(0.3)
    return model.eval()


@torch.no_grad()
def run_stages(model, images):
    original_sizes = [tuple(img.shape[-2:]) for img in images]
    il, _ = model.transform(images)
    features = model.backbone(il.tensors)
    proposals, _ = model.rpn(il, features)
    return il, features, proposals, original_sizes


@torch.no_grad()
def build_model_case(write, name, builder, frozen, images, seed, min_dets, build_options=None):
    model = make_model(builder, frozen, seed)
    il, features, proposals, original_sizes = run_stages(model, images)
    # Sharpen the box classifier until enough detections pass the score threshold.
    # Starts flat (every class near 1/91 < 0.05) and stops before the 100-detection cap binds.
    cls = model.roi_heads.box_predictor.cls_score
    factor = 0.2
    cls.weight.mul_(factor)
    cls.bias.mul_(factor)
    for _ in range(60):
        dets, _ = model.roi_heads(features, proposals, il.image_sizes)
        if min(len(d["boxes"]) for d in dets) >= min_dets:
            break
        cls.weight.mul_(1.1)
        cls.bias.mul_(1.1)
        factor *= 1.1
    model.roi_heads.box_roi_pool.scales = None  # cached by the first call; the fixture's run sets it again
    model.roi_heads.box_roi_pool.map_levels = None
    with torch.no_grad():
        out = model(images)  # the end-to-end result, as users call it
    t = OrderedDict()
    for i, img in enumerate(images):
        t[f"image_{i}"] = img
    t["transformed"] = il.tensors
    t["image_sizes"] = torch.tensor(il.image_sizes, dtype=torch.int32)
    for k, v in features.items():
        t[f"features_{k}"] = v
    t["anchors"] = model.rpn.anchor_generator(il, list(features.values()))[0]
    head_obj, head_reg = model.rpn.head(list(features.values()))
    t["rpn_objectness_0"] = head_obj[0]
    t["rpn_bbox_0"] = head_reg[0]
    for i, p in enumerate(proposals):
        t[f"proposals_{i}"] = p
    # RoIAlign box features and class logits for the first proposals of each image
    pool = model.roi_heads.box_roi_pool
    pooled = pool(features, proposals, il.image_sizes)
    t["box_roi_pool_scales"] = torch.tensor(pool.scales)
    n0 = len(proposals[0])
    t["box_features_0_head"] = pooled[:64]
    t["box_features_1_head"] = pooled[n0 : n0 + 64]
    head = model.roi_heads.box_head(pooled)
    logits, regs = model.roi_heads.box_predictor(head)
    t["class_logits_0_head"] = logits[:64]
    t["box_regression_0_head"] = regs[:64]
    for i, d in enumerate(out):
        t[f"boxes_{i}"] = d["boxes"]
        t[f"labels_{i}"] = d["labels"]
        t[f"scores_{i}"] = d["scores"]
    t.update(state_entries(model))
    config = dict(
        builder=builder,
        frozen=frozen,
        numParams=sum(p.numel() for p in model.parameters()),
        clsSharpen=factor,
        originalSizes=[list(s) for s in original_sizes],
        imageSizes=[list(s) for s in il.image_sizes],
        detections=[len(d["boxes"]) for d in out],
        proposals=[len(p) for p in proposals],
        featureNames=list(features.keys()),
        buildOptions=build_options or {},
    )
    print(name, config["detections"], config["proposals"], "sharpen", factor, flush=True)
    write(name, t, {"config": config})
    return model


def build(write, out):
    build_ops(write)
    g = torch.Generator().manual_seed(5)
    imgs_a = [smooth_image(g, 300, 500), png_image("astronaut.png"), smooth_image(g, 333, 517)]
    build_model_case(write, "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_fpn", True, imgs_a, 3001, 30)
    imgs_b = [smooth_image(g, 480, 640), png_image("chelsea.png"), smooth_image(g, 333, 517)]
    model = build_model_case(write, "fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn", True, imgs_b, 3002, 30)
    # The pipeline and `mnv3 detect`: this model as a torch.save checkpoint (FrozenBatchNorm2d keys,
    # as TorchVision's published ones) and one photo run alone, as a user would.
    torch.save(model.state_dict(), os.path.join(out, "fasterrcnn_320.pth"))
    save_pre_013_checkpoint(model, os.path.join(out, "fasterrcnn_320_pre013.pth"), pre_013_renames(model))
    with open(os.path.join(SKIMAGE, "chelsea.png"), "rb") as src, open(os.path.join(out, "chelsea.png"), "wb") as dst:
        dst.write(src.read())
    with torch.no_grad():
        (single,) = model([png_image("chelsea.png")])
    write("pipeline_320_chelsea", {k: v for k, v in single.items()}, {"config": {"detections": len(single["boxes"])}})
    imgs_c = [png_image("coffee.png")]
    build_model_case(write, "fasterrcnn_mobilenet_v3_large_320_fpn_bn", "fasterrcnn_mobilenet_v3_large_320_fpn", False, imgs_c, 3003, 20)
    imgs_d = [png_image("coffee.png"), smooth_image(g, 333, 517)]
    build_model_case(write, "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn", True, imgs_d, 3004, 30, dict(minSize=320, maxSize=512))
