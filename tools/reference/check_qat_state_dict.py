"""Loads a state_dict written by @mnv3/quantize/qat into torch's own QAT-prepared MobileNetV3-Small
(10 classes; _replace_relu, fuse_model(is_qat=True), get_default_qat_qconfig('qnnpack'), prepare_qat)
with load_state_dict(strict=True), and checks each tensor's dtype is the one torch's state_dict has.

Usage: python3 check_qat_state_dict.py STATE.pth   (prints JSON; a failed strict load raises)
"""
import json
import sys

import torch
from torch.ao import quantization as tq
from torchvision.models.quantization import mobilenetv3 as qmnv3


def main(path):
    settings, last_channel = qmnv3._mobilenet_v3_conf("mobilenet_v3_small")
    model = qmnv3.QuantizableMobileNetV3(settings, last_channel, block=qmnv3.QuantizableInvertedResidual, num_classes=10)
    qmnv3._replace_relu(model)
    model.train()
    model.fuse_model(is_qat=True)
    model.qconfig = tq.get_default_qat_qconfig("qnnpack")
    tq.prepare_qat(model, inplace=True)
    own = model.state_dict()
    sd = torch.load(path)
    model.load_state_dict(sd, strict=True)
    mismatches = [f"{k}: {sd[k].dtype} vs {v.dtype}" for k, v in own.items() if sd[k].dtype != v.dtype]
    print(json.dumps({"strict": True, "keys": len(sd), "dtypeMismatches": mismatches}))


if __name__ == "__main__":
    main(sys.argv[1])
