"""Small FER+ ablation (EVALUATION.md): targets and crops, equal budget, data and seed, run one after another.

Every variant: configs/fer_resnet_ferplus.yaml warm-started from models/emotion_fer_resnet_fer2013.onnx, an
8,000-image stratified subset, 3 epochs, one thread; results in ~/.cache/fer_ros/runs/ablation/results.json.
    OMP_NUM_THREADS=1 python scripts/ablation_ferplus.py     (from the repository root, scripts/env.sh sourced)
"""
import copy
import json
import logging
import os
import sys

sys.path.insert(0, os.getcwd())
from fer_ros.training.config import load_config  # noqa: E402
from fer_ros.training.trainer import train  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)

base = load_config('fer_ros/training/configs/fer_resnet_ferplus.yaml')
base.epochs, base.data.train_subset, base.keep_epochs, base.progress = 3, 8000, False, False
base.data.extra_val = base.data.extra_val + [
    {'name': 'tcce_dev_crops', 'dir': '../shared/data/tcce_dev', 'mode': 'crops'}]
variants = {
    'majority': dict(ferplus_target='majority'),
    'probability': dict(ferplus_target='probability'),
    'distribution': dict(ferplus_target='distribution'),
    'fer2013_labels': dict(train_dir='../shared/data/fer2013/train'),
    'distribution_plain_aug': dict(ferplus_target='distribution', plain_aug=True),
    'distribution_wide_jitter': dict(ferplus_target='distribution', wide=True),
}
results = {}
for name, change in variants.items():
    c = copy.deepcopy(base)
    c.run_dir = f'~/.cache/fer_ros/runs/ablation/{name}'
    plain = change.pop('plain_aug', False)
    if change.pop('wide', False):  # twice the measured box spread: zoom out to whole-photo framing too
        c.augment.box_log_sd, c.augment.box_shift_sd = 0.25, 0.08
    for k, v in change.items():
        setattr(c.data, k, v)
    if plain:  # the original fer_resnet_fer2013 augmentation: uniform zoom/shift, no degradations
        a = c.augment
        a.box_scale, a.box_log_sd, a.box_shift_sd, a.scale, a.translate_px = 1.0, 0.0, 0.0, 0.1, 3.0
        a.blur_prob = a.jpeg_prob = a.lowres_prob = 0.0
    m = train(c)
    results[name] = m['history'][-1]
    json.dump(results, open(os.path.expanduser('~/.cache/fer_ros/runs/ablation/results.json'), 'w'), indent=2)
KEYS = ('val_acc', 'fer2013_val_acc', 'tcce_dev_photos_acc', 'tcce_dev_crops_acc')
print(json.dumps({k: {kk: v[kk] for kk in KEYS} for k, v in results.items()}, indent=2))
