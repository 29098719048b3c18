"""Optional PyTorch training toolkit (installed with the ``train`` extra).

This sub-package is the only part of fer_ros that imports torch. It trains the emotion classifiers
(compact ResNet, mini-Xception, EfficientFace, ARM head; plain cross-entropy, Self-Cure Network and
label distribution training), exports them to ONNX with the metadata the core model registry reads,
and draws guided-backpropagation saliency maps.
"""
