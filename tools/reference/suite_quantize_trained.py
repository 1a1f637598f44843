"""Fixtures for @mnv3/quantize on a *trained* model, whose logits follow the pixels (random-weight
logits barely do, so accuracy could not tell a faithful int8 engine from a wrong one).

suite_trained's MobileNetV3-Small (Debian's Fashion-MNIST, 64x64, one epoch) is quantized on the
qnnpack engine two ways, as TorchVision's reference does:
- `qat`: TorchVision's quantizable model with the trained weights, `fuse_model(is_qat=True)`,
  `get_default_qat_qconfig('qnnpack')`, `prepare_qat`, observers run on calibration images, then
  disabled: the layout of TorchVision's published quantized checkpoint. Saved as a `.pth`;
  converted, its test-set predictions.
- `ptq`: `--post-training-quantize` (`fuse_model()`, `get_default_qconfig('qnnpack')`, `prepare`,
  the same calibration images, `convert`): its test-set predictions and accuracy.
The float model's state dict and the float (normalised 64x64) calibration and test batches go with
them, so the TypeScript side quantizes the same model on the same data.
"""
import copy
import os

import torch
import torch.ao.quantization as tq
from torchvision.models.quantization import mobilenetv3 as qmnv3

from suite_trained import batch_rgb, fashion, train

CALIBRATION = 256
TEST = 1000


def quantizable(float_model):
    settings, last_channel = qmnv3._mobilenet_v3_conf("mobilenet_v3_small")
    model = qmnv3.QuantizableMobileNetV3(settings, last_channel, block=qmnv3.QuantizableInvertedResidual, num_classes=10)
    qmnv3._replace_relu(model)
    model.load_state_dict(float_model.state_dict())
    return model.eval()


def build(write, out):
    torch.backends.quantized.engine = "qnnpack"
    torch.set_num_threads(2)
    float_model, _ = train()
    with torch.no_grad():
        quantize_both(write, out, float_model)


def quantize_both(write, out, float_model):
    train_images, _ = fashion("train")
    test_images, test_labels = fashion("test")
    calibration = batch_rgb(train_images[-CALIBRATION:])  # images the model did not train on
    test = batch_rgb(test_images[:TEST])
    labels = test_labels[:TEST]
    float_predictions = float_model(test).argmax(1)

    qat = quantizable(float_model)
    qat.train()
    qat.fuse_model(is_qat=True)
    qat.qconfig = tq.get_default_qat_qconfig("qnnpack")
    tq.prepare_qat(qat, inplace=True)
    qat.eval()  # BatchNorm keeps its statistics; the fake-quant observers still update
    for i in range(0, CALIBRATION, 64):
        qat(calibration[i:i + 64])
    qat.apply(tq.disable_observer)
    torch.save(qat.state_dict(), os.path.join(out, "qat_fashion.pth"))
    qat_converted = tq.convert(copy.deepcopy(qat).eval())
    qat_predictions = qat_converted(test).argmax(1)

    ptq = quantizable(float_model)
    ptq.fuse_model(is_qat=False)
    ptq.qconfig = tq.get_default_qconfig("qnnpack")
    tq.prepare(ptq, inplace=True)
    for i in range(0, CALIBRATION, 64):
        ptq(calibration[i:i + 64])
    tq.convert(ptq, inplace=True)
    ptq_predictions = ptq(test).argmax(1)

    def accuracy(p):
        return (p == labels).float().mean().item()

    config = dict(
        calibrationImages=CALIBRATION,
        testImages=TEST,
        floatAccuracy=accuracy(float_predictions),
        qatAccuracy=accuracy(qat_predictions),
        ptqAccuracy=accuracy(ptq_predictions),
    )
    print("quantize_trained", config, flush=True)
    tensors = {
        "calibration": calibration,
        "test": test,
        "labels": labels,
        "qat_predictions": qat_predictions,
        "ptq_predictions": ptq_predictions,
        **{"state." + k: v for k, v in float_model.state_dict().items()},
    }
    write("fashion", tensors, {"config": config})
