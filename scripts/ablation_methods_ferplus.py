"""Small FER+ method ablations (EVALUATION.md): each seed method against its control, same budget, data and seed.

Every run: configs/fer_resnet_ferplus.yaml's data and augmentation, the same stratified 8,000-image subset of
FER+ train, 3 epochs, seed 0, one thread, dev checks every epoch (ferplus/val majority, fer2013/val,
tcce_dev photos); the last epoch is reported. Groups (a run's name starts with its group):
  ef_*   EfficientFace from scratch at 40x40: CE on the majority label / LD from the frozen shipped
         fer-resnet-fer2013 (the paper's LDG, loaded from its ONNX file) / soft CE on the FER+ votes;
         ef12_* the same with 12 epochs (3 from scratch leaves it far from converged)
  arm_*  fer_resnet warm-started from the shipped ONNX with and without the ARM head (de-albino pooling +
         sharing affinity), at 48x48 so the last map is 3x3 (at 40x40 it is 2x2: no centre to trust)
  mx_*   mini-Xception from scratch on the FER+ votes, mean 0.5, sd 0.5: mx_distribution at the seed's 64x64
         (segfaults in libtorch's backward with the degradations on), mx_nodeg_distribution the same without
         them, mx48_distribution at 48x48, mx48_distribution_e12 that with 12 epochs
  cold_* fer_resnet from scratch, CE vs SCN at 0 / 30 % synthetic noise on the majority label
Runs go to ~/.cache/fer_ros/runs/ablation_methods/<name>; run names on the command line, or --summary.
The runs in EVALUATION.md: ef_ce ef_ld ef_distribution ef12_ce ef12_ld ef12_distribution arm_none arm_head
mx48_distribution mx48_distribution_e12 mx_nodeg_distribution cold_ce_0 cold_scn_0 cold_ce_30 cold_scn_30.
    OMP_NUM_THREADS=1 python scripts/ablation_methods_ferplus.py ef_ce ef_ld     (repository root, env.sh sourced)
"""
import copy
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())
import torch  # noqa: E402

from fer_ros.training.checkpoint import build_training_model, save_checkpoint  # noqa: E402
from fer_ros.training.config import config_to_dict, load_config  # noqa: E402
from fer_ros.training.onnx_weights import load_onnx_weights, recalibrate_batchnorm  # noqa: E402
from fer_ros.training.trainer import load_datasets, train  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
OUT = Path('~/.cache/fer_ros/runs/ablation_methods').expanduser()
SHIPPED = 'models/emotion_fer_resnet_fer2013.onnx'
base = load_config('fer_ros/training/configs/fer_resnet_ferplus.yaml')
base.epochs, base.data.train_subset, base.keep_epochs, base.progress = 3, 8000, False, False


def scratch(c, model, kwargs=None, lr=0.05):
    """From scratch: no init, the learning rate of the from-scratch configs, a one-epoch warm-up."""
    c.init_from, c.model.name, c.model.kwargs = '', model, kwargs or {}
    c.optim.lr, c.optim.warmup_epochs = lr, 1.0


def teacher_checkpoint() -> str:
    """The shipped fer-resnet-fer2013 ONNX as a frozen-teacher checkpoint (mode ld loads .pt files)."""
    path = OUT / 'teacher_fer_resnet_fer2013.pt'
    if not path.is_file():
        c = copy.deepcopy(base)
        c.mode, c.init_from = 'ce', ''
        model = build_training_model(c)
        load_onnx_weights(model, SHIPPED)  # eval mode computes exactly the ONNX function
        OUT.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, {'config': config_to_dict(c), 'model_state': model.state_dict()})
    return str(path)


def arm_init(c) -> str:
    """ARM's backbone warm-started as trainer.initialise does for a plain .onnx (weights + BN recalibrated on
    the first 512 training images at the input size); the head starts fresh. Returned as a .pt for init_from."""
    import torch.nn.functional as F

    from fer_ros.training import augment as aug

    path = OUT / f'{c.run_dir.rsplit("/", 1)[-1]}_init.pt'
    model = build_training_model(c)
    load_onnx_weights(model.backbone, SHIPPED)
    train_set, _, _ = load_datasets(c)
    d = c.data
    x = F.interpolate(aug.to_float(torch.from_numpy(train_set.images[:512])), size=(d.input_size, d.input_size),
                      mode='bilinear', align_corners=False)
    recalibrate_batchnorm(model.backbone, aug.normalise(x, d.mean, d.std))
    OUT.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, {'model_state': model.state_dict()})
    return str(path)


def variant(name: str):
    c = copy.deepcopy(base)
    c.run_dir = str(OUT / name)
    if name.startswith(('ef_', 'ef12_')):  # ef12_*: the same three runs with 12 epochs on the same subset
        scratch(c, 'efficientface')
        c.epochs = 12 if name.startswith('ef12_') else 3
        name = 'ef_' + name.split('_', 1)[1]
        if name == 'ef_ce':
            c.data.ferplus_target = 'majority'
        elif name == 'ef_ld':
            c.mode, c.teacher, c.data.ferplus_target = 'ld', teacher_checkpoint(), 'majority'
        elif name != 'ef_distribution':
            raise ValueError(name)
    elif name.startswith('arm_'):
        c.data.input_size = 48
        if name == 'arm_head':
            c.model.name = 'arm'
            c.model.kwargs = {'backbone': 'fer_resnet', 'input_size': 48, 'dropout': 0.3,
                              'backbone_kwargs': dict(base.model.kwargs, dropout=0.0)}
            c.init_from = arm_init(c)
        elif name != 'arm_none':
            raise ValueError(name)
    elif name in ('mx_distribution', 'mx48_distribution', 'mx_nodeg_distribution', 'mx48_distribution_e12'):
        scratch(c, 'mini_xception')  # mx48: FER's native 48x48; _e12: 12 epochs
        c.epochs = 12 if name.endswith('_e12') else 3
        c.data.input_size, c.data.std = (48 if name.startswith('mx48') else 64), 0.5
        if 'nodeg' in name:  # at 64x64 any of the degradations segfaults libtorch in backward (not understood)
            c.augment.blur_prob = c.augment.jpeg_prob = c.augment.lowres_prob = 0.0
    elif name.startswith('cold_'):
        mode, noise = name.split('_')[1:]
        scratch(c, 'fer_resnet', dict(base.model.kwargs))
        c.mode, c.data.ferplus_target, c.data.label_noise = mode, 'majority', int(noise) / 100
        c.scn.relabel_start_epoch = 1
    else:
        raise ValueError(f'unknown run {name!r}')
    return c


KEYS = ('val_acc', 'fer2013_val_acc', 'tcce_dev_photos_acc', 'train_labels_equal_clean', 'relabelled', 'seconds')


def summary() -> None:
    results = {}
    for metrics in sorted(OUT.glob('*/metrics.json')):
        last = json.loads(metrics.read_text())['history'][-1]
        results[metrics.parent.name] = {k: last[k] for k in KEYS if k in last}
    (OUT / 'results.json').write_text(json.dumps(results, indent=2) + '\n')
    print(json.dumps(results, indent=2))


if __name__ == '__main__':
    for run in sys.argv[1:]:
        if run == '--summary':
            summary()
        else:
            train(variant(run), resume=True)
