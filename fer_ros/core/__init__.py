"""ROS-free perception core: numpy, OpenCV and onnxruntime only (never rclpy, never torch).

Modules, one job each:
``config`` (PipelineConfig), ``pipeline`` (Pipeline.process -> FrameResult), ``detectors`` (Haar, YuNet,
downscaled detection) and ``mtcnn`` (own P/R/O-Net cascade), ``face_crop`` (the one crop/align place),
``classifiers`` (emotion/gender ONNX runners), ``model_registry`` (models by name, files, sha256,
preprocessing, provenance), ``onnx_session`` (threads, no spinning), ``image_input`` (input checks),
``image_convert`` (sensor_msgs image fields <-> BGR arrays), ``share`` (installed data folders),
``draw`` (annotations), ``tracking`` (track ids, smoothing), ``labels`` and ``results`` (shared types).
"""
