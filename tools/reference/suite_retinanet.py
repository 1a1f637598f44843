"""Fixtures for @mnv3/detect-retinanet: TorchVision's RetinaNet ResNet-50 FPN (retinanet_resnet50_fpn).

The model is retinanet_resnet50_fpn as TorchVision builds it for its COCO_V1 weights
(FrozenBatchNorm2d, eps overwritten to 0, layers 2-4 into the FPN with LastLevelP6P7(256, 256),
nine anchors per location) at a smaller transform (min 320, max 512: ResNet-50 and the subnets at
800 px cost ~6x the compute), with seeded random weights and BatchNorm statistics calibrated on
images.

Random class logits sit at the 0.01 prior (the bias TorchVision initialises `cls_logits` with), far
below the 0.05 score threshold: the fixture keeps that bias and scales the logits' weights up until
hundreds of detections per image pass, so that thresholding, per-level top-k, NMS and the
300-detection cap are all exercised. Box deltas are scaled down as the RPN's in the detection
suite (random deltas of order 1-3 hit the exp clamp, where feature noise becomes pixels).

Every stage is recorded: transformed batch, FPN maps P3-P7, anchors, the head's outputs for the
first image, detections in resized and original coordinates. The checkpoint is also saved as a
torchvision < 0.13 file (the layout of TorchVision's published COCO_V1 weights), which TorchVision
0.14 itself must load; `mnv3 detect` runs that file on a photo at the builder's 800 px
(`pipeline_chelsea`).
"""
import math
import os
import shutil
from collections import OrderedDict

import torch
from torchvision.models.detection._utils import overwrite_eps
from torchvision.models.detection.retinanet import RetinaNet
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from common import state_entries
from suite_detection import SKIMAGE, make_resnet50_fpn_backbone, png_image, pre_013_renames, randomize_outside_body, save_pre_013_checkpoint, smooth_image

MIN_DETECTIONS = 150


def make_model(seed):
    backbone = make_resnet50_fpn_backbone(True, seed, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    model = RetinaNet(backbone, 91, min_size=320, max_size=512)
    overwrite_eps(model, 0.0)  # retinanet_resnet50_fpn does this for COCO_V1
    randomize_outside_body(model, seed)
    with torch.no_grad():
        model.head.classification_head.cls_logits.bias.fill_(-math.log((1 - 0.01) / 0.01))
        model.head.regression_head.bbox_reg.weight.mul_(0.3)
        model.head.regression_head.bbox_reg.bias.mul_(0.3)
    return model.eval()


@torch.no_grad()
def detections_from_head(model, il, features, head_outputs):
    """RetinaNet.forward's eval branch from the head's outputs on: split by level, postprocess."""
    anchors = model.anchor_generator(il, features)
    hw = [x.size(2) * x.size(3) for x in features]
    a = head_outputs["cls_logits"].size(1) // sum(hw)
    split = [h * a for h in hw]
    split_outputs = {k: list(v.split(split, dim=1)) for k, v in head_outputs.items()}
    split_anchors = [list(x.split(split)) for x in anchors]
    return model.postprocess_detections(split_outputs, split_anchors, il.image_sizes), anchors


@torch.no_grad()
def build_case(write, out, name, images, seed):
    model = make_model(seed)
    il, _ = model.transform(images)
    features = list(model.backbone(il.tensors).values())
    cls = model.head.classification_head.cls_logits
    factor = 0.2
    cls.weight.mul_(factor)
    for _ in range(80):
        dets, _ = detections_from_head(model, il, features, model.head(features))
        if min(len(d["boxes"]) for d in dets) >= MIN_DETECTIONS:
            break
        cls.weight.mul_(1.03)
        factor *= 1.03
    outputs = model(images)  # end to end, as users call it
    feature_maps = model.backbone(il.tensors)
    head_outputs = model.head(list(feature_maps.values()))
    resized, anchors = detections_from_head(model, il, list(feature_maps.values()), head_outputs)
    t = OrderedDict()
    for i, img in enumerate(images):
        t[f"image_{i}"] = img
    t["transformed"] = il.tensors
    for k, v in feature_maps.items():
        t[f"features_{k}"] = v
    t["anchors"] = anchors[0]
    t["cls_logits_0"] = head_outputs["cls_logits"][0]
    t["bbox_regression_0"] = head_outputs["bbox_regression"][0]
    for i, (r, d) in enumerate(zip(resized, outputs)):
        for k in ("boxes", "labels", "scores"):
            t[f"resized_{k}_{i}"] = r[k]
            t[f"{k}_{i}"] = d[k]
    t.update(state_entries(model))
    path = os.path.join(out, f"{name}_pre013.pth")
    renames = pre_013_renames(model)
    for head in ("classification_head", "regression_head"):
        for i in range(4):
            for typ in ("weight", "bias"):
                renames[f"head.{head}.conv.{i}.0.{typ}"] = f"head.{head}.conv.{2 * i}.{typ}"
    save_pre_013_checkpoint(model, path, renames)
    config = dict(
        numParams=sum(p.numel() for p in model.parameters()),
        clsSharpen=factor,
        originalSizes=[list(img.shape[-2:]) for img in images],
        imageSizes=[list(s) for s in il.image_sizes],
        featureNames=list(feature_maps.keys()),
        detections=[len(d["boxes"]) for d in outputs],
        buildOptions=dict(minSize=320, maxSize=512),
        pre013Renames=len(renames),
    )
    print(name, config["detections"], "sharpen", factor, flush=True)
    write(name, t, {"config": config})
    return model


@torch.no_grad()
def build_pipeline_case(write, out, model):
    """`mnv3 detect --model retinanet_resnet50_fpn --weights retinanet_resnet50_fpn_pre013.pth PHOTO`:
    the same weights as a user loads them from a file (TorchVision's builder without weights, then
    load_state_dict: FrozenBatchNorm2d keeps eps 1e-5, the builder's 800/1333 transform), on one photo."""
    overwrite_eps(model, 1e-5)
    model.transform.min_size, model.transform.max_size = (800,), 1333
    photo = png_image("chelsea.png")
    shutil.copyfile(os.path.join(SKIMAGE, "chelsea.png"), os.path.join(out, "chelsea.png"))
    d = model([photo])[0]
    print("pipeline_chelsea", len(d["boxes"]), flush=True)
    write("pipeline_chelsea", {"boxes": d["boxes"], "labels": d["labels"], "scores": d["scores"]}, {"config": dict(detections=len(d["boxes"]))})


def build(write, out):
    g = torch.Generator().manual_seed(7)
    model = build_case(write, out, "retinanet_resnet50_fpn", [png_image("coffee.png"), smooth_image(g, 333, 517)], 4001)
    build_pipeline_case(write, out, model)
