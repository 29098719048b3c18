"""Small SCN ablation on FER+ majority labels (EVALUATION.md): CE vs SCN at 0 / 20 / 30 % synthetic label noise.

Every run: configs/fer_resnet_ferplus.yaml with the FER+ majority target, warm-started from the shipped
fer-resnet-fer2013 (models/emotion_fer_resnet_fer2013.onnx; SCN wraps it, its attention branch starts fresh),
the same stratified 8,000-image subset, the same noise seed, 3 epochs, SCN relabelling from epoch 1, one thread.
    OMP_NUM_THREADS=1 python scripts/ablation_scn_ferplus.py     (repository root, scripts/env.sh sourced)
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
base.data.ferplus_target = 'majority'
base.scn.relabel_start_epoch = 1
out = os.path.expanduser('~/.cache/fer_ros/runs/ablation_scn')
results = {}
for noise in (0.0, 0.2, 0.3):
    for mode in ('ce', 'scn'):
        c = copy.deepcopy(base)
        c.mode, c.data.label_noise = mode, noise
        c.run_dir = f'{out}/{mode}_noise{int(noise * 100)}'
        m = train(c)
        results[f'{mode}_noise{int(noise * 100)}'] = m['history'][-1]
        os.makedirs(out, exist_ok=True)
        json.dump(results, open(f'{out}/results.json', 'w'), indent=2)
KEYS = ('val_acc', 'fer2013_val_acc', 'tcce_dev_photos_acc', 'train_labels_equal_clean', 'relabelled')
print(json.dumps({k: {kk: v.get(kk) for kk in KEYS} for k, v in results.items()}, indent=2))
