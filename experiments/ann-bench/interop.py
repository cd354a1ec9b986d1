"""Weights move both ways between neuromorph and PyTorch through safetensors.
 1. PyTorch rebuilds a neuromorph-trained model from model.json, loads model.safetensors with
    safetensors.torch.load_file (strict load_state_dict) and predicts the test set; the predictions
    are compared image by image with `neuromorph eval --predictions`.
 2. PyTorch trains a model, saves it as a neuromorph model folder (model.json + model.safetensors
    written by safetensors.torch.save_file), and `neuromorph eval` must reproduce PyTorch's accuracy.
Usage: python interop.py NEUROMORPH_BINARY NEUROMORPH_MODEL_DIR WORK_DIR"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

import nm_torch

nm, nm_model, work = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(work, exist_ok=True)
torch.set_num_threads(2)
xte, yte = nm_torch.load_split("test")


def torch_predict(model):
    with torch.inference_mode():
        out = torch.cat([model(xte[b:b + 1000]) for b in range(0, len(xte), 1000)])
    return out.numpy(), out.argmax(1).numpy()


def nm_eval(model_dir, tag):
    pred, logits, js = (os.path.join(work, f"{tag}-{k}") for k in ("pred.npy", "logits.npy", "eval.json"))
    subprocess.run([nm, "eval", model_dir, "--predictions", pred, "--outputs", logits, "--json", js, "--threads", "2", "--force"],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(logits), np.load(pred), json.load(open(js))


def compare(tag, t_logits, t_pred, n_logits, n_pred, n_json):
    agree = float((t_pred == n_pred).mean())
    t_acc = float((t_pred == yte.numpy()).mean())
    diff = float(np.abs(t_logits - n_logits).max())
    print(f"{tag}: PyTorch accuracy {100 * t_acc:.2f}%, neuromorph accuracy {100 * n_json['accuracy']:.2f}%, "
          f"predictions agree on {100 * agree:.2f}% of 10,000 images, max |logit difference| {diff:.2e}")
    assert agree >= 0.999, "predictions disagree"
    assert abs(t_acc - n_json["accuracy"]) <= 0.001, "accuracies differ"
    assert diff < 1e-3, "logits differ"


# 1. neuromorph -> PyTorch
model, spec = nm_torch.load_model_dir(nm_model)
t_logits, t_pred = torch_predict(model)
compare("neuromorph-trained weights", t_logits, t_pred, *nm_eval(nm_model, "nm"))

# 2. PyTorch -> neuromorph (one epoch of the CNN in PyTorch)
pt_dir = os.path.join(work, "pt-cnn")
subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "torch_train.py"), "cnn", "1", "2", "1", "--save", pt_dir],
               check=True, stdout=subprocess.DEVNULL)
model, _ = nm_torch.load_model_dir(pt_dir)
t_logits, t_pred = torch_predict(model)
compare("PyTorch-trained weights", t_logits, t_pred, *nm_eval(pt_dir, "pt"))
print("interop OK")
